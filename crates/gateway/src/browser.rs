//! Protection from web pages. The server runs code on request, so a page the user has open
//! must not be able to reach it: a request from another origin is refused unless that origin
//! was allowed (`--cors-origin`), preflights are answered only for allowed origins, and the
//! `Host` must be one the server is known by, which defeats DNS rebinding.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName};
use tributary_service::names;

/// What the browser checks allow.
#[derive(Debug, Clone, Default)]
pub struct BrowserPolicy {
    /// Origins allowed to call from a page (`http://localhost:3000`), or `*`.
    pub cors_origins: Vec<String>,
    /// Extra names the server may be reached by, besides loopback names and IP literals;
    /// each also allows its subdomains (S3 virtual-hosted buckets).
    pub allowed_hosts: Vec<String>,
    /// The host of `--listen`.
    pub listen_host: String,
}

/// The verdict on a request's origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Not from a page on another origin (no `Origin`, the server's own origin, or a browser
    /// saying it is same-origin or user-initiated).
    Trusted,
    /// From an allowed origin: answer with CORS headers for it.
    Allowed(String),
    /// From another origin that is not allowed.
    Refused(String),
}

fn header(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `host[:port]` → the lowercased host, without brackets or a trailing dot.
fn host_name(authority: &str) -> String {
    let a = authority.trim();
    let host = if let Some(rest) = a.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        match a.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => a,
        }
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl BrowserPolicy {
    /// Whether the `Host` header names this server: a loopback name, an IP literal (a page
    /// cannot rebind an address), the `--listen` host, or an `--allowed-host` name or one of
    /// its subdomains.
    pub fn host_allowed(&self, headers: &HeaderMap) -> Result<(), String> {
        let Some(raw) = header(headers, names::HOST) else {
            // HTTP/1.0 without Host: nothing a browser sends.
            return Ok(());
        };
        let host = host_name(raw);
        // `localhost.localstack.cloud` is a public name that always resolves to 127.0.0.1
        // (LocalStack's S3 virtual hosts use it); no page can rebind it to anything else.
        let ok = host == "localhost"
            || host.ends_with(".localhost")
            || host == "localhost.localstack.cloud"
            || host.ends_with(".localhost.localstack.cloud")
            || host.parse::<IpAddr>().is_ok()
            || host == host_name(&self.listen_host)
            || self.allowed_hosts.iter().any(|a| {
                let a = host_name(a);
                host == a || host.strip_suffix(&a).is_some_and(|p| p.ends_with('.'))
            });
        if ok {
            Ok(())
        } else {
            Err(host)
        }
    }

    /// Judges where a request comes from.
    pub fn origin(&self, headers: &HeaderMap) -> Origin {
        match header(headers, names::ORIGIN) {
            Some(origin) => {
                let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
                if self.same_origin(&origin, headers) {
                    Origin::Trusted
                } else if self
                    .cors_origins
                    .iter()
                    .any(|o| o == "*" || o.trim_end_matches('/').eq_ignore_ascii_case(&origin))
                {
                    Origin::Allowed(origin)
                } else {
                    Origin::Refused(origin)
                }
            }
            // No Origin: a browser still says whether the request crosses sites (an <img>,
            // a form GET, a navigation); anything else is not a browser.
            None => match header(headers, names::SEC_FETCH_SITE) {
                Some("cross-site" | "same-site") => Origin::Refused(
                    header(headers, names::REFERER)
                        .unwrap_or("another site")
                        .into(),
                ),
                _ => Origin::Trusted,
            },
        }
    }

    /// The page was served by this server: its origin is `http://<the Host of this request>`.
    fn same_origin(&self, origin: &str, headers: &HeaderMap) -> bool {
        let Some(host) = header(headers, names::HOST) else {
            return false;
        };
        origin
            .strip_prefix("http://")
            .is_some_and(|o| o.eq_ignore_ascii_case(host.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn policy() -> BrowserPolicy {
        BrowserPolicy {
            cors_origins: vec!["http://localhost:3000".into()],
            allowed_hosts: vec!["tributary.internal".into()],
            listen_host: "127.0.0.1".into(),
        }
    }

    #[test]
    fn hosts() {
        let p = policy();
        for ok in [
            "127.0.0.1:4566",
            "localhost:4566",
            "bucket.localhost:4566",
            "[::1]:4566",
            "10.1.2.3",
            "tributary.internal",
            "bucket.tributary.internal:4566",
            "LOCALHOST.",
        ] {
            assert!(p.host_allowed(&headers(&[("host", ok)])).is_ok(), "{ok}");
        }
        for bad in [
            "evil.example:4566",
            "localhost.evil.example",
            "xtributary.internal",
        ] {
            assert!(p.host_allowed(&headers(&[("host", bad)])).is_err(), "{bad}");
        }
    }

    #[test]
    fn origins() {
        let p = policy();
        let h = |o: &str| headers(&[("host", "127.0.0.1:4566"), ("origin", o)]);
        assert_eq!(p.origin(&h("http://127.0.0.1:4566")), Origin::Trusted);
        assert_eq!(
            p.origin(&h("http://localhost:3000")),
            Origin::Allowed("http://localhost:3000".into())
        );
        assert!(matches!(
            p.origin(&h("http://127.0.0.1:8000")),
            Origin::Refused(_)
        ));
        assert!(matches!(p.origin(&h("null")), Origin::Refused(_)));
        assert_eq!(
            p.origin(&headers(&[("host", "127.0.0.1:4566")])),
            Origin::Trusted
        );
        assert!(matches!(
            p.origin(&headers(&[
                ("host", "127.0.0.1:4566"),
                ("sec-fetch-site", "same-site")
            ])),
            Origin::Refused(_)
        ));
        assert_eq!(
            p.origin(&headers(&[
                ("host", "127.0.0.1:4566"),
                ("sec-fetch-site", "same-origin")
            ])),
            Origin::Trusted
        );
    }
}
