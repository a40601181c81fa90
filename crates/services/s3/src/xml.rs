//! XML in and out: a small writer for responses (S3's documents are flat and ordered, so a
//! builder is clearer than serde) and a parser that turns request bodies into a tree.

use quick_xml::events::Event;
use tributary_model::AwsError;

/// The namespace of every S3 response document.
pub const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Builds an XML document element by element.
pub struct Writer {
    buf: String,
}

impl Writer {
    /// A document whose root element carries the S3 namespace.
    pub fn new(root: &str) -> Writer {
        let mut buf = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        buf.push_str(&format!("<{root} xmlns=\"{NS}\">"));
        Writer { buf }
    }

    /// A document whose root element has no namespace (S3's `<Error>`).
    pub fn bare(root: &str) -> Writer {
        let mut buf = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        buf.push_str(&format!("<{root}>"));
        Writer { buf }
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    /// `<name>text</name>`, with the text escaped.
    pub fn elem(&mut self, name: &str, text: impl AsRef<str>) -> &mut Self {
        self.open(name);
        escape_into(&mut self.buf, text.as_ref());
        self.close(name)
    }

    /// Escaped text inside the element opened last.
    pub fn text(&mut self, text: &str) -> &mut Self {
        escape_into(&mut self.buf, text);
        self
    }

    /// Closes the root element and returns the bytes.
    pub fn finish(mut self, root: &str) -> Vec<u8> {
        self.close(root);
        self.buf.into_bytes()
    }
}

/// Escapes text content. Control characters XML 1.0 cannot carry literally become character
/// references, and `\r` too, so a parser's line-end normalisation cannot change a key.
fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 => out.push_str(&format!("&#x{:X};", c as u32)),
            c => out.push(c),
        }
    }
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
        let mut w = Writer::new("ListBucketResult");
        w.elem("Key", "a<b>&\"c\"\r")
            .open("Owner")
            .elem("ID", "x")
            .close("Owner");
        let s = String::from_utf8(w.finish("ListBucketResult")).unwrap();
        assert_eq!(
            s,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"{NS}\">\
                 <Key>a&lt;b&gt;&amp;&quot;c&quot;&#xD;</Key><Owner><ID>x</ID></Owner></ListBucketResult>"
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
