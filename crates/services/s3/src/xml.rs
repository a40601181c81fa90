//! XML in and out: the answer documents, written with the generated structures' `ToXml`
//! inside S3's root elements, and a parser that turns request bodies into a tree.

use tributary_model::AwsError;
use tributary_shapes::xml::{Element, TimestampStyle, ToXml, Xml};

/// The namespace of every S3 response document.
pub const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// A writer with `<root xmlns="…">` open: S3 prints timestamps with milliseconds.
pub fn start(root: &str) -> Xml {
    let mut x = Xml::with_timestamps(TimestampStyle::Millis);
    x.open_with(root, &[("xmlns", NS.to_owned())]);
    x
}

/// An answer document: `body`'s members inside `<root xmlns="…">`.
pub fn document(root: &str, body: &impl ToXml) -> Vec<u8> {
    let mut x = start(root);
    body.write_xml(&mut x);
    x.close(root);
    finish(x)
}

/// The bytes of a written document, after the XML declaration. Control characters XML 1.0
/// cannot carry literally (a key may hold them) become character references, as S3 writes
/// them; the writer already writes `\r` as one, so a parser's line-end normalisation cannot
/// change a key.
pub fn finish(x: Xml) -> Vec<u8> {
    let body = x.into_string();
    let mut out = String::with_capacity(body.len() + 40);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    for c in body.chars() {
        match c {
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 => out.push_str(&format!("&#x{:X};", c as u32)),
            c => out.push(c),
        }
    }
    out.into_bytes()
}

/// S3's error for a body that is not well-formed XML or not the expected document.
pub fn malformed() -> AwsError {
    AwsError::new(
        "MalformedXML",
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// Parses a request body into its root element (`tributary_shapes::xml::parse`, nesting
/// bounded): `MalformedXML` when it is not one well-formed document.
pub fn parse(body: &[u8]) -> Result<Element, AwsError> {
    tributary_shapes::xml::parse(body).map_err(|_| malformed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_escaped_documents() {
        let body = crate::types::ListObjectsV2Output {
            name: Some("a<b>&\"c\"\r\u{1}\t".to_owned()),
            contents: Some(vec![crate::types::Object {
                key: Some("k".to_owned()),
                last_modified: Some(tributary_shapes::types::Timestamp::from_millis(0)),
                owner: Some(crate::types::Owner {
                    id: Some("x".to_owned()),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let s = String::from_utf8(document("ListBucketResult", &body)).unwrap();
        assert_eq!(
            s,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"{NS}\">\
                 <Contents><Key>k</Key><LastModified>1970-01-01T00:00:00.000Z</LastModified>\
                 <Owner><ID>x</ID></Owner></Contents>\
                 <Name>a&lt;b&gt;&amp;&quot;c&quot;&#xD;&#x1;\t</Name></ListBucketResult>"
            )
        );
    }

    #[test]
    fn malformed_documents_are_malformed_xml() {
        for bad in [&b"<a><b></a>"[..], b"", b"<a/><b/>", b"\xff"] {
            assert_eq!(parse(bad).unwrap_err().code, "MalformedXML", "{bad:?}");
        }
        assert_eq!(parse(b"<Delete/>").unwrap().name, "Delete");
    }
}
