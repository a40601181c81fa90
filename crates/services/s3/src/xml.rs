//! XML in and out: the answer documents, written with the generated structures' `ToXml`
//! inside S3's root elements, and a parser that turns request bodies into a tree.

use quick_xml::events::Event;
use tributary_model::AwsError;
use tributary_shapes::xml::{TimestampStyle, ToXml, Xml};

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

/// An element of a parsed request body: its local name (namespace prefix dropped), its text
/// and its child elements.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of a child element, if present.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

/// S3's error for a body that is not well-formed XML or not the expected document.
pub fn malformed() -> AwsError {
    AwsError::new(
        "MalformedXML",
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// Deepest element nesting a request document may have. S3's request documents nest four or
/// five levels (`Delete/Object/Key`, `Tagging/TagSet/Tag/Key`); the parse itself keeps open
/// elements on a heap stack, but the tree it returns is dropped (and read) recursively, so a
/// deeper body is refused as malformed.
const MAX_DEPTH: usize = 32;

/// Parses a request body into its root element.
pub fn parse(body: &[u8]) -> Result<Node, AwsError> {
    let text = std::str::from_utf8(body).map_err(|_| malformed())?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let event = reader.read_event().map_err(|_| malformed())?;
        match event {
            Event::Start(e) | Event::Empty(e) if root.is_some() => {
                let _ = e;
                return Err(malformed());
            }
            Event::Start(_) | Event::Empty(_) if stack.len() >= MAX_DEPTH => {
                return Err(malformed());
            }
            Event::Start(e) => stack.push(Node {
                name: e.local_name().as_ref().to_owned(),
                ..Node::default()
            }),
            Event::Empty(e) => {
                let node = Node {
                    name: e.local_name().as_ref().to_owned(),
                    ..Node::default()
                };
                attach(&mut stack, &mut root, node);
            }
            Event::End(_) => {
                let node = stack.pop().ok_or_else(malformed)?;
                attach(&mut stack, &mut root, node);
            }
            Event::Text(t) => {
                let s = t.xml10_content();
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err(malformed()),
                }
            }
            Event::CData(t) => {
                let top = stack.last_mut().ok_or_else(malformed)?;
                top.text.push_str(&t.xml10_content());
            }
            Event::GeneralRef(r) => {
                let top = stack.last_mut().ok_or_else(malformed)?;
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten().map(String::from)
                } else {
                    quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                        .map(str::to_owned)
                };
                top.text.push_str(&resolved.ok_or_else(malformed)?);
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(malformed());
    }
    root.ok_or_else(malformed)
}

fn attach(stack: &mut [Node], root: &mut Option<Node>, node: Node) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => *root = Some(node),
    }
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
    fn parses_request_documents() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
            <Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Object><Key>a&amp;b &#x41;</Key></Object>
              <Object><Key><![CDATA[<c>]]></Key></Object>
              <Quiet>true</Quiet><Empty/>
            </Delete>"#;
        let root = parse(body).unwrap();
        assert_eq!(root.name, "Delete");
        let keys: Vec<_> = root
            .children_named("Object")
            .map(|o| o.child_text("Key").unwrap())
            .collect();
        assert_eq!(keys, ["a&b A", "<c>"]);
        assert_eq!(root.child_text("Quiet"), Some("true"));
        assert!(root.child("Empty").is_some());
    }

    #[test]
    fn rejects_malformed_documents() {
        for bad in [
            &b"<a><b></a>"[..],
            b"<a>",
            b"",
            b"text",
            b"<a/><b/>",
            b"<a>&bogus;</a>",
            b"\xff",
        ] {
            assert_eq!(parse(bad).unwrap_err().code, "MalformedXML", "{bad:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let doc =
            |depth: usize| format!("{}x{}", "<a>".repeat(depth), "</a>".repeat(depth)).into_bytes();
        let std_thread = std::thread::Builder::new().stack_size(256 * 1024);
        std_thread
            .spawn(move || {
                let mut node = parse(&doc(MAX_DEPTH)).unwrap();
                for _ in 1..MAX_DEPTH {
                    node = node.children.remove(0);
                }
                assert_eq!(node.text, "x");
                for depth in [MAX_DEPTH + 1, 100_000] {
                    assert_eq!(parse(&doc(depth)).unwrap_err().code, "MalformedXML");
                }
                let empty = format!(
                    "{}<a/>{}",
                    "<a>".repeat(MAX_DEPTH),
                    "</a>".repeat(MAX_DEPTH)
                );
                assert_eq!(parse(empty.as_bytes()).unwrap_err().code, "MalformedXML");
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
