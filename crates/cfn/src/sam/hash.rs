//! SAM's generated logical ids: a prefix and the first 10 hex digits of the SHA-1 of the
//! data that should trigger a new id, serialized as Python's
//! `json.dumps(data, separators=(",", ":"), sort_keys=True)` does, so the ids match the ones
//! `aws-sam-translator` generates (its `translator/logical_id_generator.py`).

use serde_json::Value;
use sha1::{Digest, Sha1};

/// `prefix` + the first 10 hex digits of the SHA-1 of `data` (a string hashes as itself).
/// With a precomputed `hash` (`AutoPublishCodeSha256`), its first 10 characters.
pub(crate) fn logical_id(prefix: &str, data: &Value, hash: Option<&str>) -> String {
    if let Some(h) = hash {
        let short: String = h.chars().take(10).collect();
        return format!("{prefix}{short}");
    }
    let text = match data {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Object(m) if m.is_empty() => String::new(),
        other => python_json(other),
    };
    if text.is_empty() {
        return prefix.to_owned();
    }
    let digest = Sha1::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{}", &hex[..10])
}

/// Python's compact, key-sorted, ASCII-only JSON.
pub(crate) fn python_json(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            // serde_json's map is ordered by key bytes: for UTF-8 that is code point order,
            // Python's `sort_keys` order.
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(k, out);
                out.push(':');
                write(item, out);
            }
            out.push('}');
        }
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_as_python_does() {
        assert_eq!(
            python_json(&json!({"b": [1, true, null], "a": "x\"y\u{e9}\u{1f600}\n"})),
            r#"{"a":"x\"y\u00e9\ud83d\ude00\n","b":[1,true,null]}"#
        );
    }

    #[test]
    fn ids_take_ten_hex_digits() {
        let id = logical_id("FnVersion", &json!({"S3Bucket": "b", "S3Key": "k"}), None);
        assert_eq!(id.len(), "FnVersion".len() + 10);
        assert!(id["FnVersion".len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit()));
        assert_eq!(logical_id("P", &json!("abc"), None), "Pa9993e3647");
        assert_eq!(
            logical_id("P", &json!({}), Some("0123456789abcdef")),
            "P0123456789"
        );
    }
}
