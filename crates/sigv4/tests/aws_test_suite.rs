//! The AWS signing test suite (`tests/aws-signing-test-suite`, see its README): every
//! signed request of it verifies, and changing any signed part of one makes it fail.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tributary_sigv4::{
    parse, sha256_hex, verify, AuthError, Authorization, PathStyle, RequestParts, Signed,
};

const DEFAULT_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// A request of the suite's `*-signed-request.txt` form.
#[derive(Clone)]
struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn read(file: &Path) -> Request {
        let text = fs::read_to_string(file).unwrap();
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let request_line = lines.next().unwrap();
        let (method, target) = request_line.split_once(' ').unwrap();
        let target = target.strip_suffix(" HTTP/1.1").unwrap_or(target);
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                // An obsolete folded line continues the previous header.
                let last = headers.last_mut().unwrap();
                last.1.push('\n');
                last.1.push_str(line);
            } else {
                let (n, v) = line.split_once(':').unwrap();
                headers.push((n.to_owned(), v.to_owned()));
            }
        }
        Request {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn check(
        &self,
        secret: &str,
        unnormalized: bool,
        now: SystemTime,
    ) -> Result<Authorization, AuthError> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let parts = RequestParts {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
        };
        let Some(Signed::V4(mut auth)) = parse(&parts)? else {
            panic!("no SigV4 signature found")
        };
        if unnormalized {
            auth.path_style = PathStyle::Unnormalized;
        }
        verify(&parts, &auth, secret, || sha256_hex(&self.body), now)?;
        Ok(auth)
    }
}

/// Changes one character of a value into another of the same kind, so the value stays
/// well-formed (a date stays a date, a hash stays hex) but is no longer what was signed.
fn tamper(value: &str) -> String {
    let mut chars: Vec<char> = value.chars().collect();
    if let Some(i) = chars.iter().rposition(|c| c.is_ascii_digit()) {
        chars[i] = if chars[i] == '9' {
            '8'
        } else {
            (chars[i] as u8 + 1) as char
        };
    } else if let Some(i) = chars.iter().rposition(|c| c.is_ascii_alphabetic()) {
        chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
    } else {
        chars.push('x');
    }
    chars.into_iter().collect()
}

struct Case {
    name: String,
    dir: PathBuf,
    secret: String,
    unnormalized: bool,
    now: Option<SystemTime>,
}

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aws-signing-test-suite");
    let mut cases: Vec<Case> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|dir| {
            let ctx: serde_json::Value = fs::read_to_string(dir.join("context.json"))
                .map(|s| serde_json::from_str(&s).unwrap())
                .unwrap_or_default();
            let now = ctx["timestamp"].as_str().map(|t| {
                // "2015-08-30T12:36:00Z": only this date is used by the suite.
                assert_eq!(t, "2015-08-30T12:36:00Z");
                UNIX_EPOCH + Duration::from_secs(1_440_938_160)
            });
            Case {
                name: dir.file_name().unwrap().to_string_lossy().into_owned(),
                secret: ctx["credentials"]["secret_access_key"]
                    .as_str()
                    .unwrap_or(DEFAULT_SECRET)
                    .to_owned(),
                unnormalized: ctx["normalize"] == serde_json::Value::Bool(false),
                now,
                dir,
            }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

/// The time of a request as signed (for the cases without a context).
fn request_time(r: &Request) -> SystemTime {
    let headers: Vec<(&str, &str)> = r
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let parts = RequestParts {
        method: &r.method,
        path: &r.path,
        query: &r.query,
        headers: &headers,
    };
    let Ok(Some(Signed::V4(auth))) = parse(&parts) else {
        panic!("no SigV4 signature found")
    };
    UNIX_EPOCH + Duration::from_secs(auth.time)
}

#[test]
fn every_signed_request_of_the_suite_verifies() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in cases() {
        for form in ["header", "query"] {
            let file = case.dir.join(format!("{form}-signed-request.txt"));
            if !file.exists() {
                continue;
            }
            let request = Request::read(&file);
            let now = case.now.unwrap_or_else(|| request_time(&request));
            if case.name == "double-encode-path" {
                // Its signed request and canonical request disagree on the date (the case
                // only ever tested the canonical URI): compare that line.
                let Err(AuthError::SignatureMismatch {
                    canonical_request, ..
                }) = request.check(&case.secret, case.unnormalized, now)
                else {
                    panic!("double-encode-path is not expected to verify")
                };
                let expected =
                    fs::read_to_string(case.dir.join("header-canonical-request.txt")).unwrap();
                assert_eq!(canonical_request.lines().nth(1), expected.lines().nth(1));
                checked += 1;
                continue;
            }
            match request.check(&case.secret, case.unnormalized, now) {
                Ok(_) => checked += 1,
                Err(AuthError::SignatureMismatch {
                    canonical_request, ..
                }) => {
                    let expected =
                        fs::read_to_string(case.dir.join(format!("{form}-canonical-request.txt")))
                            .unwrap_or_default();
                    failures.push(format!(
                        "{} ({form}): signature mismatch\n-- ours:\n{canonical_request}\n-- expected:\n{expected}",
                        case.name
                    ));
                }
                Err(e) => failures.push(format!("{} ({form}): {e:?}", case.name)),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(checked >= 75, "only {checked} requests checked");
}

#[test]
fn changing_any_signed_part_of_a_suite_request_fails() {
    let mismatch = |r: Result<Authorization, AuthError>, what: &str| match r {
        Err(AuthError::SignatureMismatch { .. }) => {}
        other => panic!("{what}: {other:?}"),
    };
    for case in cases()
        .into_iter()
        .filter(|c| c.name != "double-encode-path")
    {
        for form in ["header", "query"] {
            let file = case.dir.join(format!("{form}-signed-request.txt"));
            if !file.exists() {
                continue;
            }
            let original = Request::read(&file);
            let now = case.now.unwrap_or_else(|| request_time(&original));
            let what = |w: &str| format!("{} ({form}): {w}", case.name);
            let check = |r: &Request| r.check(&case.secret, case.unnormalized, now);
            let auth = check(&original).unwrap();

            mismatch(
                original.check(
                    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEz",
                    case.unnormalized,
                    now,
                ),
                &what("secret"),
            );

            let mut r = original.clone();
            r.method = if r.method == "GET" {
                "HEAD".into()
            } else {
                "PUT".into()
            };
            mismatch(check(&r), &what("method"));

            let mut r = original.clone();
            r.path.push('x');
            mismatch(check(&r), &what("path"));

            let mut r = original.clone();
            r.query = if r.query.is_empty() {
                "a=b".into()
            } else {
                format!("{}&a=b", r.query)
            };
            mismatch(check(&r), &what("query"));

            if !original.query.is_empty() && form == "header" {
                let mut r = original.clone();
                r.query = tamper(&r.query);
                mismatch(check(&r), &what("query value"));
            }

            for (i, (name, value)) in original.headers.iter().enumerate() {
                let lower = name.to_ascii_lowercase();
                if !auth.signed_headers.contains(&lower) {
                    continue;
                }
                let mut r = original.clone();
                r.headers[i].1 = tamper(value);
                mismatch(check(&r), &what(&format!("header {name}")));
            }

            if !original.body.is_empty() {
                let mut r = original.clone();
                r.body.push(b'x');
                match check(&r) {
                    Err(
                        AuthError::SignatureMismatch { .. }
                        | AuthError::ContentSha256Mismatch { .. },
                    ) => {}
                    other => panic!("{}: {other:?}", what("body")),
                }
            }
        }
    }
}

#[test]
fn suite_requests_are_refused_outside_their_time_window() {
    for case in cases().into_iter().filter(|c| c.now.is_some()) {
        let now = case.now.unwrap();
        let header = Request::read(&case.dir.join("header-signed-request.txt"));
        assert!(header
            .check(
                &case.secret,
                case.unnormalized,
                now + Duration::from_secs(900)
            )
            .is_ok());
        assert!(header
            .check(
                &case.secret,
                case.unnormalized,
                now - Duration::from_secs(900)
            )
            .is_ok());
        assert!(matches!(
            header.check(
                &case.secret,
                case.unnormalized,
                now + Duration::from_secs(901)
            ),
            Err(AuthError::RequestTimeSkewed { future: false, .. })
        ));
        assert!(matches!(
            header.check(
                &case.secret,
                case.unnormalized,
                now - Duration::from_secs(901)
            ),
            Err(AuthError::RequestTimeSkewed { future: true, .. })
        ));
        // Presigned for 3600 s: valid for that long, and up to 15 minutes before its date.
        let query = Request::read(&case.dir.join("query-signed-request.txt"));
        let at = |secs: i64| {
            now.checked_add(Duration::from_secs(secs.max(0) as u64))
                .unwrap()
                - Duration::from_secs((-secs).max(0) as u64)
        };
        query
            .check(&case.secret, case.unnormalized, at(3600))
            .unwrap();
        query
            .check(&case.secret, case.unnormalized, at(-900))
            .unwrap();
        assert!(matches!(
            query.check(
                &case.secret,
                case.unnormalized,
                now + Duration::from_secs(3601)
            ),
            Err(AuthError::PresignedExpired { .. })
        ));
        assert!(matches!(
            query.check(
                &case.secret,
                case.unnormalized,
                now - Duration::from_secs(901)
            ),
            Err(AuthError::PresignedNotYetValid { .. })
        ));
    }
}
