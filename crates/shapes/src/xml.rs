//! The XML the query protocols answer with: a small writer, and [`ToXml`], which the generated
//! structures of the query services implement from the model's wire names (lists as
//! `<member>` elements unless flattened, maps as `<entry><key>…</key><value>…</value></entry>`);
//! and [`parse`], which reads a request document into a tree of [`Element`]s.

use crate::types::Timestamp;

/// Escapes text for an XML element or attribute. Carriage returns are written as character
/// references so XML parsers do not normalise them away.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// How a service writes timestamps in XML. Both are ISO 8601 in UTC, which every SDK parses;
/// the services differ in the precision they print.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimestampStyle {
    /// `2019-11-14T00:13:49.717Z` (CloudFormation, CloudWatch, SNS).
    #[default]
    Millis,
    /// `2019-11-14T00:13:49Z` (IAM, STS).
    Seconds,
}

/// A small XML writer: elements are opened, filled with escaped text, and closed in order.
#[derive(Debug, Default)]
pub struct Xml {
    out: String,
    timestamps: TimestampStyle,
}

impl Xml {
    pub fn new() -> Xml {
        Xml::default()
    }

    /// A writer whose [`Xml::timestamp`] prints in `style`.
    pub fn with_timestamps(style: TimestampStyle) -> Xml {
        Xml {
            out: String::new(),
            timestamps: style,
        }
    }

    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    /// `<tag a="v" ...>`, the values escaped.
    pub fn open_with(&mut self, tag: &str, attributes: &[(&str, String)]) -> &mut Self {
        self.out.push('<');
        self.out.push_str(tag);
        for (a, v) in attributes {
            self.out.push(' ');
            self.out.push_str(a);
            self.out.push_str("=\"");
            escape_into(&mut self.out, v);
            self.out.push('"');
        }
        self.out.push('>');
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    /// `<tag>text</tag>` with `text` escaped.
    pub fn elem(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        escape_into(&mut self.out, text);
        self.close(tag)
    }

    /// A timestamp element in the writer's style.
    pub fn timestamp(&mut self, tag: &str, t: Timestamp) -> &mut Self {
        let text = match self.timestamps {
            TimestampStyle::Millis => t.iso_millis(),
            TimestampStyle::Seconds => t.iso_seconds(),
        };
        self.elem(tag, &text)
    }

    /// A double as AWS's Java services print one: `1.0`, `0.5`, `1.0E20`.
    pub fn double(&mut self, tag: &str, v: f64) -> &mut Self {
        self.elem(tag, &java_double(v))
    }

    /// Appends already-rendered XML.
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.out.push_str(xml);
        self
    }

    pub fn into_string(self) -> String {
        self.out
    }
}

/// Java's `Double.toString`: plain notation with at least one decimal between 10^-3 and 10^7,
/// scientific (`1.0E20`) outside it.
pub fn java_double(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let a = v.abs();
    if v == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{v:?}");
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    // `{:e}` prints the shortest digits that round-trip: `1e20`, `1.5e-7`.
    let s = format!("{v:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_owned()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exp}")
}

/// A structure written as the members of an XML element (the caller writes the element).
pub trait ToXml {
    fn write_xml(&self, x: &mut Xml);

    /// The attributes of the structure's own element: a namespace declaration and members
    /// the model writes as attributes (S3's `<Grantee xmlns:xsi="…" xsi:type="…">`).
    fn xml_attributes(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

/// An element of a parsed request document: its local name (namespace prefix dropped), its
/// text and its child elements. Attributes are not kept (no request shape we read has any).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of a child element, if present.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

/// A request body that is not one well-formed XML document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotWellFormed;

/// Deepest element nesting a request document may have. Request documents nest four or five
/// levels (`Delete/Object/Key`, `Tagging/TagSet/Tag/Key`); the parse itself keeps open
/// elements on a heap stack, but the tree it returns is dropped (and read) recursively, so a
/// deeper body is refused.
pub const MAX_DEPTH: usize = 32;

/// Parses a request body into its root element.
pub fn parse(body: &[u8]) -> Result<Element, NotWellFormed> {
    use quick_xml::events::Event;
    let text = std::str::from_utf8(body).map_err(|_| NotWellFormed)?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let named = |name: &str| Element {
        name: name.to_owned(),
        ..Element::default()
    };
    loop {
        match reader.read_event().map_err(|_| NotWellFormed)? {
            Event::Start(_) | Event::Empty(_) if root.is_some() => return Err(NotWellFormed),
            Event::Start(_) | Event::Empty(_) if stack.len() >= MAX_DEPTH => {
                return Err(NotWellFormed)
            }
            Event::Start(e) => stack.push(named(e.local_name().as_ref())),
            Event::Empty(e) => attach(&mut stack, &mut root, named(e.local_name().as_ref())),
            Event::End(_) => {
                let node = stack.pop().ok_or(NotWellFormed)?;
                attach(&mut stack, &mut root, node);
            }
            Event::Text(t) => {
                let s = t.xml10_content();
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err(NotWellFormed),
                }
            }
            Event::CData(t) => {
                let top = stack.last_mut().ok_or(NotWellFormed)?;
                top.text.push_str(&t.xml10_content());
            }
            Event::GeneralRef(r) => {
                let top = stack.last_mut().ok_or(NotWellFormed)?;
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten().map(String::from)
                } else {
                    quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                        .map(str::to_owned)
                };
                top.text.push_str(&resolved.ok_or(NotWellFormed)?);
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(NotWellFormed);
    }
    root.ok_or(NotWellFormed)
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, node: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => *root = Some(node),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java_prints_them() {
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(0.5), "0.5");
        assert_eq!(java_double(123.25), "123.25");
        assert_eq!(java_double(1e20), "1.0E20");
        assert_eq!(java_double(1.5e-7), "1.5E-7");
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(-2.0), "-2.0");
    }

    #[test]
    fn timestamps_in_either_style() {
        let t = Timestamp::from_millis(1_573_690_429_717);
        let mut x = Xml::new();
        x.timestamp("T", t);
        assert_eq!(x.into_string(), "<T>2019-11-14T00:13:49.717Z</T>");
        let mut x = Xml::with_timestamps(TimestampStyle::Seconds);
        x.timestamp("T", t);
        assert_eq!(x.into_string(), "<T>2019-11-14T00:13:49Z</T>");
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
            assert_eq!(parse(bad), Err(NotWellFormed), "{bad:?}");
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
                    assert_eq!(parse(&doc(depth)), Err(NotWellFormed));
                }
                let empty = format!(
                    "{}<a/>{}",
                    "<a>".repeat(MAX_DEPTH),
                    "</a>".repeat(MAX_DEPTH)
                );
                assert_eq!(parse(empty.as_bytes()), Err(NotWellFormed));
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
