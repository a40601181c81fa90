//! nullsrv.rs: measurement-harness ceiling, copied from /work/shared/bench/nullsrv (our shared tooling).
//! Thread per connection, HTTP/1.1 keep-alive, reads each request (headers + Content-Length body) and
//! answers 200 with a tiny fixed JSON body (shaped like a GetItem hit). No storage, no parsing of the
//! JSON. Build: rustc -O -o nullsrv nullsrv.rs (run.sh does this). Usage: nullsrv 127.0.0.1:PORT
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

const BODY: &str = r#"{"Item":{"pk":{"S":"k1"},"payload":{"S":"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"}}}"#;

fn serve(stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::with_capacity(16 * 1024, stream);
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: 0\r\nContent-Length: {}\r\n\r\n{}",
        BODY.len(),
        BODY
    );
    let mut line = String::new();
    let mut body = Vec::new();
    loop {
        let mut clen = 0usize;
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(()); // connection closed
        }
        loop {
            line.clear();
            if r.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    clen = v.trim().parse().unwrap_or(0);
                }
            }
        }
        body.resize(clen, 0);
        r.read_exact(&mut body)?;
        w.write_all(resp.as_bytes())?;
    }
}

fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:5199".into());
    let l = TcpListener::bind(&addr).expect("bind");
    for s in l.incoming().flatten() {
        std::thread::spawn(move || {
            let _ = serve(s);
        });
    }
}
