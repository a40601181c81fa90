//! The XML request-body parser (S3's bucket and object configurations, CloudFormation's
//! templates in XML-bodied calls): any bytes are parsed or refused as not well formed, and a
//! parsed tree is never deeper than `MAX_DEPTH`, so nothing recursive over it can overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_shapes::xml::{parse, Element, MAX_DEPTH};

fn depth(e: &Element) -> usize {
    1 + e.children.iter().map(depth).max().unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(root) = parse(data) {
        assert!(depth(&root) <= MAX_DEPTH, "a tree {} deep", depth(&root));
        let _ = root.child_text("Status");
    }
});
