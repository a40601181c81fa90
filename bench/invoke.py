#!/usr/bin/env python3
"""Function host latency: cold start (CreateFunction -> first response) and warm Invoke round
trips, for a Python, a Node.js and a Rust (`lambda_runtime`, provided.al2023) function.

Each run starts its own `tributary serve --in-memory`; per runtime it
  cold   creates a function with a trivial echo handler and measures from the CreateFunction
         call to the end of the first successful Invoke (the function turns Active within
         milliseconds; the first invoke starts the runtime process, runs init, then the handler);
         repeated --cold times with fresh function names
  warm   --n sequential Invokes of the warm environment over a keep-alive http.client
         connection with a prebuilt request (boto3 would add ~1 ms of client time), after 20
         unmeasured warm-up calls

Prints p50/p99 per runtime (median of --repeat runs for the percentiles).

  python3 bench/invoke.py [--n 1000] [--cold 10] [--repeat 3] [--bin target/release/tributary]
"""

from __future__ import annotations

import argparse
import http.client
import io
import socket
import statistics
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import e2e  # noqa: E402
from e2e import Server, log  # noqa: E402

PY = "def handler(event, context):\n    return event\n"
NODE = "exports.handler = async (event) => event;\n"
ROLE = "arn:aws:iam::000000000000:role/bench"


def zip_of(files: dict[str, bytes], executable: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o755 if name in executable else 0o644) << 16
            z.writestr(info, data)
    return buf.getvalue()


def runtimes() -> list[tuple[str, str, str, bytes]]:
    rust = e2e.REPO / "target" / "release" / "rust-echo"
    if not rust.is_file():
        sys.exit(f"{rust} not found: cargo build --release -p rust-echo")
    return [
        ("python", "python3.12", "handler.handler", zip_of({"handler.py": PY.encode()})),
        ("node", "nodejs20.x", "index.handler", zip_of({"index.js": NODE.encode()})),
        ("rust", "provided.al2023", "bootstrap", zip_of({"bootstrap": rust.read_bytes()}, ("bootstrap",))),
    ]


def pct(vals: list[float], p: float) -> float:
    s = sorted(vals)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


class RawInvoke:
    def __init__(self, port: int, name: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.path = f"/2015-03-31/functions/{name}/invocations"

    def call(self, body: bytes = b'{"x":1}') -> float:
        t0 = time.perf_counter()
        self.conn.request("POST", self.path, body=body, headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        data = r.read()
        dt = (time.perf_counter() - t0) * 1000
        if r.status != 200 or r.getheader("X-Amz-Function-Error"):
            sys.exit(f"invoke failed: {r.status} {data[:200]!r}")
        return dt


def run(args, i: int) -> dict:
    binary, sha = e2e.snapshot_binary(Path(args.bin))
    run_dir = e2e.new_run_dir("invoke", False, i)
    srv = Server(binary, run_dir, False, keep_data=False)
    srv.start()
    out: dict = {"binary_sha256": sha}
    try:
        _ddb, lam, _ = e2e.clients(srv.endpoint)
        for label, runtime, handler, code in runtimes():
            colds, firsts = [], []
            for c in range(args.cold):
                name = f"bench-{label}-{c}"
                t0 = time.perf_counter()
                lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                                    Code={"ZipFile": code}, MemorySize=512)
                t_created = time.perf_counter()
                inv = RawInvoke(srv.port, name)
                while True:  # Pending for a few ms while the code is unpacked
                    inv.conn.request("POST", inv.path, body=b'{"x":1}')
                    r = inv.conn.getresponse()
                    r.read()
                    if r.status == 200:
                        break
                    if r.status != 409:
                        sys.exit(f"{label}: first invoke answered {r.status}")
                    time.sleep(0.001)
                colds.append((time.perf_counter() - t0) * 1000)
                firsts.append((time.perf_counter() - t_created) * 1000)
            inv = RawInvoke(srv.port, f"bench-{label}-0")
            for _ in range(20):
                inv.call()
            warm = [inv.call() for _ in range(args.n)]
            out[label] = {"cold": colds, "first": firsts, "warm": warm, "zip_bytes": len(code)}
            log(f"{label}: cold p50 {pct(colds, 50):.1f} ms, warm p50 {pct(warm, 50):.3f} / p99 {pct(warm, 99):.3f} ms")
    finally:
        srv.stop()
        srv.scan_log()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="warm invokes per runtime")
    ap.add_argument("--cold", type=int, default=10, help="cold starts per runtime")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bin", default=str(e2e.REPO / "target/release/tributary"))
    args = ap.parse_args()
    rs = [run(args, i) for i in range(args.repeat)]
    print("| runtime | zip | create -> first response p50 / p99 ms | of which first Invoke p50 / p99 ms | warm Invoke p50 / p99 ms |")
    print("|---|---|---|---|---|")
    for label in ("python", "node", "rust"):
        m = lambda key, p: statistics.median(pct(r[label][key], p) for r in rs)  # noqa: E731
        print(f"| {label} | {rs[0][label]['zip_bytes'] / 1e6:.2f} MB | {m('cold', 50):.1f} / {m('cold', 99):.1f} | "
              f"{m('first', 50):.1f} / {m('first', 99):.1f} | {m('warm', 50):.3f} / {m('warm', 99):.3f} |")
    if e2e.ANOMALIES:
        print("ANOMALIES:\n  " + "\n  ".join(e2e.ANOMALIES))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
