//! Item and attribute sizes by DynamoDB's rules (the 400 KB item limit, stream `SizeBytes`,
//! capacity units).
//!
//! * String: UTF-8 length. Binary: raw length. Null and Boolean: 1 byte.
//! * Number: see [`number_size`].
//! * List and Map: 3 bytes, plus for each element its size and 1 byte (and, in a map, the UTF-8
//!   length of its key).
//! * Sets: the sum of their elements' sizes.
//! * An item or a key: the sum over attributes of the name's UTF-8 length and the value's size.

use crate::attr::{AttributeValue, Item};
use crate::number::Decimal;

/// DynamoDB's item size limit (400 KB); an item of exactly this size is accepted.
pub const MAX_ITEM_SIZE: usize = 409_600;

/// Fixed overhead of a List or Map.
const DOCUMENT_OVERHEAD: usize = 3;
/// Per-element overhead inside a List or Map.
const ELEMENT_OVERHEAD: usize = 1;
/// Largest size a number can take.
const MAX_NUMBER_SIZE: usize = 21;

/// Size in bytes of a number (any valid spelling; canonical in practice).
///
/// DynamoDB stores numbers as base-100 digits aligned on the decimal point, plus one exponent
/// byte, plus one byte for a negative number, at most 21 bytes; zero takes 1 byte. So
/// significant digits cost one byte per pair, counted from the decimal point: `12` and
/// `123456` cost 2 and 4, while `1.5` (`1|.5`) and `3.14159` (`3|.14|15|9`) cost 3 and 5.
/// This matches byte-exact measurements of the 400 KB gate against AWS (see the tests). The
/// developer guide's "1 byte per two significant digits plus 1" is the same for integers that do
/// not end in zeros.
pub fn number_size(canonical: &str) -> usize {
    let Some(d) = Decimal::parse_unchecked(canonical) else {
        return canonical.len();
    };
    if d.is_zero() {
        return 1;
    }
    // Digit k (0-based) sits at 10^(exponent - k); base-100 digit j covers 10^(2j) and 10^(2j+1).
    let high = i64::from(d.exponent());
    let low = high - d.significant_digits() as i64 + 1;
    let pairs = (high.div_euclid(2) - low.div_euclid(2) + 1) as usize;
    (1 + pairs + usize::from(d.is_negative())).min(MAX_NUMBER_SIZE)
}

/// Size in bytes of one value.
pub fn attr_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.len(),
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(v) => v.iter().map(Vec::len).sum(),
        AttributeValue::M(m) => {
            DOCUMENT_OVERHEAD
                + m.iter()
                    .map(|(k, v)| k.len() + attr_size(v) + ELEMENT_OVERHEAD)
                    .sum::<usize>()
        }
        AttributeValue::L(l) => {
            DOCUMENT_OVERHEAD
                + l.iter()
                    .map(|v| attr_size(v) + ELEMENT_OVERHEAD)
                    .sum::<usize>()
        }
        AttributeValue::Null | AttributeValue::Bool(_) => 1,
    }
}

/// Size in bytes of an item (or a key): Σ (UTF-8 name length + value size).
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + attr_size(v)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn s(x: &str) -> AttributeValue {
        AttributeValue::S(x.to_owned())
    }

    fn n(x: &str) -> AttributeValue {
        AttributeValue::N(crate::number::canonicalize(x).unwrap())
    }

    #[test]
    fn numbers_match_aws_measurements() {
        // Byte-exact costs measured against the 400 KB gate on AWS (a public capture).
        let d38 = "12345678901234567890123456789012345678";
        for (literal, bytes) in [
            ("0", 1),
            ("1", 2),
            ("12", 2),
            ("123", 3),
            ("1234", 3),
            (d38, 20),
            ("0042", 2),
            ("100", 2),
            ("1010", 3),
            ("0.0000001", 2),
            ("1E125", 2),
            ("1E-100", 2),
            ("1.5", 3),
            ("15", 2),
            ("1.2", 3),
            ("1.200", 3),
            ("1.234", 4),
            ("3.14159", 5),
            ("123456", 4),
            ("100.5", 4),
            ("0.15", 2),
            ("-42", 3),
            ("-0", 1),
        ] {
            let canonical = crate::number::canonicalize(literal).unwrap();
            assert_eq!(number_size(&canonical), bytes, "{literal}");
            assert_eq!(
                number_size(literal),
                bytes,
                "{literal} (uncanonical spelling)"
            );
        }
    }

    #[test]
    fn number_size_edges() {
        // A set element "42" is 2 bytes (recorded stream SizeBytes).
        assert_eq!(number_size("42"), 2);
        assert_eq!(number_size("1786461547"), 6);
        assert_eq!(number_size("1700000000"), 2);
        // 38 digits straddling the point take 20 pairs; the cap is 21 bytes even when negative.
        let straddle = "1234567890123456789012345678901234567.8";
        assert_eq!(number_size(straddle), 21);
        assert_eq!(number_size(&format!("-{straddle}")), 21);
        assert_eq!(number_size("-12345678901234567890123456789012345678"), 21);
        assert_eq!(number_size("-1"), 3);
        assert_eq!(number_size("-1E-130"), 3);
        assert_eq!(
            number_size("9.9999999999999999999999999999999999999E+125"),
            20
        );
    }

    #[test]
    fn scalars() {
        assert_eq!(attr_size(&s("Fred")), 4);
        assert_eq!(attr_size(&s("é")), 2);
        assert_eq!(attr_size(&s("")), 0);
        assert_eq!(attr_size(&AttributeValue::B(vec![1, 2, 3])), 3);
        assert_eq!(attr_size(&AttributeValue::Null), 1);
        assert_eq!(attr_size(&AttributeValue::Bool(false)), 1);
        assert_eq!(attr_size(&n("-42")), 3);
    }

    #[test]
    fn sets() {
        assert_eq!(
            attr_size(&AttributeValue::Ss(vec!["pizza".into(), "burger".into()])),
            11
        );
        assert_eq!(
            attr_size(&AttributeValue::Ns(vec!["42".into(), "1.5".into()])),
            2 + 3
        );
        assert_eq!(attr_size(&AttributeValue::Bs(vec![vec![1], vec![2, 3]])), 3);
    }

    #[test]
    fn documents() {
        assert_eq!(attr_size(&AttributeValue::L(vec![])), 3);
        assert_eq!(attr_size(&AttributeValue::M(BTreeMap::new())), 3);
        assert_eq!(
            attr_size(&AttributeValue::L(vec![s("ab"), AttributeValue::Null])),
            3 + 3 + 2
        );
        let m = AttributeValue::M(item(&[("k", s("vv")), ("num", n("12"))]));
        assert_eq!(attr_size(&m), 3 + (1 + 2 + 1) + (3 + 2 + 1));
        let nested = AttributeValue::L(vec![m.clone()]);
        assert_eq!(attr_size(&nested), 3 + attr_size(&m) + 1);
    }

    #[test]
    fn items_and_keys() {
        // Recorded stream SizeBytes: Keys {Username: S "Fred"} = 12.
        assert_eq!(item_size(&item(&[("Username", s("Fred"))])), 12);
        assert_eq!(item_size(&Item::new()), 0);
        let it = item(&[
            ("id", s("f0ba8d6c")),
            ("fullName", s("Zac Charles")),
            ("isAdmin", AttributeValue::Bool(true)),
            ("favouriteNumber", n("-1E-130")),
            (
                "foods",
                AttributeValue::Ss(vec!["pizza".into(), "burger".into()]),
            ),
        ]);
        assert_eq!(
            item_size(&it),
            (2 + 8) + (8 + 11) + (7 + 1) + (15 + 3) + (5 + 11)
        );
        assert_eq!(MAX_ITEM_SIZE, 400 * 1024);
    }
}
