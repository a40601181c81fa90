//! The query-protocol plumbing IAM and STS share: request parameters read as the model's input
//! shape (so the generated validator checks them with AWS's messages), the text forms AWS gives
//! timestamps and policy documents, `Marker` pagination, and random identifiers.
//!
//! A query request's parameters become the model's input shape through
//! `tributary_shapes::query`, so the generated validator checks them with AWS's messages.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::Rng as _;
use serde_json::{Map, Value};
use tributary_model::AwsError;
use tributary_service::query::Params;
use tributary_shapes::validate::Options;
use tributary_shapes::xml::{TimestampStyle, ToXml, Xml};
use tributary_shapes::{OperationDef, Service};

/// A query request read up to its operation: the `Action`, the model's operation of that name
/// (`from_name`, `def`: the generated enum's), and its validated input. The errors are AWS's:
/// `MissingAction`, `InvalidAction` (naming the API `version`), `ValidationError`.
pub fn operation<O>(
    service: &Service,
    version: &str,
    params: &Params,
    from_name: impl Fn(&str) -> Option<O>,
    def: impl Fn(&O) -> &'static OperationDef,
) -> Result<(String, O, Map<String, Value>), AwsError> {
    let action = params
        .get("Action")
        .map(str::to_owned)
        .ok_or_else(|| AwsError::new("MissingAction", 400, "Missing Action"))?;
    let op = from_name(&action).ok_or_else(|| {
        AwsError::new(
            "InvalidAction",
            400,
            format!("Could not find operation {action} for version {version}"),
        )
    })?;
    let input = input(service, def(&op), params)?;
    Ok((action, op, input))
}

/// The typed input of an operation, read from its query parameters and validated against the
/// model. A violation is IAM's and STS's `ValidationError` (HTTP 400) with AWS's message.
pub fn input(
    service: &Service,
    op: &OperationDef,
    params: &Params,
) -> Result<Map<String, Value>, AwsError> {
    tributary_shapes::query::validated_input(service, op, &params.0, &Options::default())
        .map_err(validation)
}

/// The operation's generated input type, read from its validated input. The query reader
/// follows the model, so a member of the wrong type cannot normally reach here; if one does,
/// it is the protocol's `ValidationError`, naming the member.
pub fn typed<T: serde::de::DeserializeOwned>(input: &Map<String, Value>) -> Result<T, AwsError> {
    tributary_shapes::types::from_object(input)
        .map_err(|e| validation(format!("Invalid value for the parameter {}", e.path)))
}

/// A generated output structure as the body of the `<...Result>` element, with IAM's and STS's
/// timestamps (whole seconds).
pub fn result<T: ToXml>(output: &T) -> Option<String> {
    let mut x = Xml::with_timestamps(TimestampStyle::Seconds);
    output.write_xml(&mut x);
    Some(x.into_string())
}

/// IAM's and STS's error for a request that breaks the model's constraints.
pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new("ValidationError", 400, message)
}

/// An RFC 3339 timestamp (`2019-12-18T20:16:25Z`) in milliseconds.
pub fn parse_iso(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// Characters a policy document keeps unescaped: RFC 3986's unreserved set.
const DOCUMENT_ESCAPES: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A policy document as IAM returns it: URL-encoded (`%7B%22Version%22...`). The SDKs decode
/// it again (botocore with `unquote`, so spaces must be `%20`, never `+`).
pub fn url_encode(document: &str) -> String {
    percent_encoding::utf8_percent_encode(document, DOCUMENT_ESCAPES).to_string()
}

/// `prefix` followed by `n` random upper-case letters and digits: `AROA…`, `AKIA…`, `ASIA…`.
pub fn random_id(prefix: &str, n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    let mut s = String::with_capacity(prefix.len() + n);
    s.push_str(prefix);
    for _ in 0..n {
        s.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    s
}

/// A 40-character secret access key (letters, digits, `+` and `/`, as AWS's).
pub fn random_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::rng();
    (0..40)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Items per page when a request gives no `MaxItems` (IAM's default).
pub const DEFAULT_MAX_ITEMS: i32 = 100;

/// One page of a list and the marker of the next, if any.
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_marker: Option<String>,
}

impl<T> Page<T> {
    /// A list answer's `IsTruncated`: whether a next page follows.
    pub fn is_truncated(&self) -> Option<bool> {
        Some(self.next_marker.is_some())
    }
}

/// Pages `items` by a unique sort key. The marker is the last key returned, base64url-encoded:
/// opaque to clients, and stable across writes (a page continues after the last key it saw).
pub fn paginate<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> String,
    marker: Option<&str>,
    max_items: Option<i32>,
) -> Result<Page<T>, AwsError> {
    items.sort_by_key(|a| key(a));
    let after = match marker {
        Some(m) => Some(
            URL_SAFE_NO_PAD
                .decode(m)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| AwsError::new("InvalidInput", 400, "Invalid Marker."))?,
        ),
        None => None,
    };
    let max = usize::try_from(max_items.unwrap_or(DEFAULT_MAX_ITEMS).max(1)).unwrap_or(1);
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|i| after.as_deref().is_none_or(|a| key(i).as_str() > a))
        .collect();
    let truncated = rest.len() > max;
    rest.truncate(max);
    let next_marker = if truncated {
        rest.last().map(|l| URL_SAFE_NO_PAD.encode(key(l)))
    } else {
        None
    };
    Ok(Page {
        items: rest,
        next_marker,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tributary_shapes::generated::{iam, sts};

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn model_violations_are_validation_errors() {
        let op = iam::Operation::from_name("CreateRole").unwrap().def();
        let e = input(
            &iam::SERVICE,
            op,
            &params(&[("RoleName", "a b"), ("AssumeRolePolicyDocument", "{}")]),
        )
        .unwrap_err();
        assert_eq!((e.code, e.status), ("ValidationError", 400));
        assert_eq!(
            e.message,
            r"1 validation error detected: Value 'a b' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+"
        );
        let e = input(&iam::SERVICE, op, &params(&[("RoleName", "r")])).unwrap_err();
        assert_eq!(
            e.message,
            "1 validation error detected: Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn empty_lists_and_bad_numbers() {
        let op = sts::Operation::from_name("AssumeRole").unwrap().def();
        let j = input(
            &sts::SERVICE,
            op,
            &params(&[
                ("RoleArn", "arn:aws:iam::000000000000:role/r"),
                ("RoleSessionName", "s1"),
                ("Tags", ""),
            ]),
        )
        .unwrap();
        assert_eq!(j["Tags"], serde_json::json!([]));
        let e = input(
            &sts::SERVICE,
            op,
            &params(&[
                ("RoleArn", "arn:aws:iam::000000000000:role/r"),
                ("RoleSessionName", "s1"),
                ("DurationSeconds", "soon"),
            ]),
        )
        .unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert!(e.message.contains("'durationSeconds'"), "{}", e.message);
    }

    #[test]
    fn pages_continue_after_the_marker() {
        let items: Vec<String> = (0..5).map(|i| format!("k{i}")).collect();
        let p = paginate(items.clone(), |s| s.clone(), None, Some(2)).unwrap();
        assert_eq!(p.items, vec!["k0", "k1"]);
        let m = p.next_marker.unwrap();
        let p = paginate(items.clone(), |s| s.clone(), Some(&m), Some(2)).unwrap();
        assert_eq!(p.items, vec!["k2", "k3"]);
        let m = p.next_marker.unwrap();
        let p = paginate(items, |s| s.clone(), Some(&m), Some(2)).unwrap();
        assert_eq!(p.items, vec!["k4"]);
        assert!(p.next_marker.is_none());
    }

    #[test]
    fn documents_are_url_encoded_with_percent_twenty() {
        assert_eq!(
            url_encode(r#"{"A": "b.c-d"}"#),
            "%7B%22A%22%3A%20%22b.c-d%22%7D"
        );
    }

    #[test]
    fn ids_have_their_prefix_and_length() {
        let id = random_id("AROA", 17);
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AROA"));
        assert!(id[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        assert_eq!(random_secret().len(), 40);
        assert_eq!(parse_iso("2019-12-18T20:16:25Z"), Some(1_576_700_185_000));
    }

    #[test]
    fn results_print_timestamps_in_whole_seconds() {
        let out = crate::types::GetGroupResponse {
            group: crate::types::Group {
                create_date: tributary_shapes::types::Timestamp::from_millis(1_576_700_185_123),
                ..Default::default()
            },
            ..Default::default()
        };
        let xml = result(&out).unwrap();
        assert!(
            xml.contains("<CreateDate>2019-12-18T20:16:25Z</CreateDate>"),
            "{xml}"
        );
    }
}
