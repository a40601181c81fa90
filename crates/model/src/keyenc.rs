//! Order-preserving, self-delimiting encoding of key attributes (S, N, B).
//!
//! For two values of the same type, the byte order of their encodings is DynamoDB's order:
//! S by UTF-8 bytes, B by unsigned bytes, N by numeric value. No encoding is a proper prefix of
//! another, so `encode(pk) ++ encode(sk)` sorts by partition key, then sort key, and all items of
//! one partition share the prefix `encode(pk)`. The type is not encoded; it comes from the key
//! schema, which every caller knows.
//!
//! * S and B: the bytes with `00` escaped as `00 FF`, then the terminator `00 00`.
//! * N: a class byte (`01` negative, `02` zero, `03` positive). A positive number follows with
//!   its scientific exponent biased by `0x8000` as a big-endian `u16`, then its significant
//!   digits two per byte (`10·d1 + d2 + 1`, so 1..=100, an odd last digit padded with 0), then
//!   `00`. A negative number writes the same bytes for its magnitude, each inverted (`!b`), so
//!   its terminator is `FF`. Digits carry no trailing zeros, so the shorter of two digit strings
//!   sharing a prefix is the smaller magnitude, and its earlier terminator sorts first.

use crate::attr::AttributeValue;
use crate::number::Decimal;

const ESCAPE: u8 = 0x00;
const ESCAPED_ZERO: u8 = 0xff;
const TERMINATOR: u8 = 0x00;

const NUM_NEGATIVE: u8 = 0x01;
const NUM_ZERO: u8 = 0x02;
const NUM_POSITIVE: u8 = 0x03;
/// Not a number at all (never produced for validated values): escaped raw text, after numbers.
const NUM_INVALID: u8 = 0x04;
const EXPONENT_BIAS: i32 = 0x8000;
const DIGITS_END: u8 = 0x00;

/// Appends the encoding of one key attribute value to `out`. Only S, N and B are key types;
/// other values append nothing.
pub fn encode_key_attr(v: &AttributeValue, out: &mut Vec<u8>) {
    match v {
        AttributeValue::S(s) => encode_bytes(s.as_bytes(), out),
        AttributeValue::B(b) => encode_bytes(b, out),
        AttributeValue::N(n) => encode_number(n, out),
        _ => {}
    }
}

/// The encoding of a primary key: `encode(pk) ++ encode(sk)`.
pub fn encode_key(pk: &AttributeValue, sk: Option<&AttributeValue>) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    encode_key_attr(pk, &mut out);
    if let Some(sk) = sk {
        encode_key_attr(sk, &mut out);
    }
    out
}

/// For `begins_with(sk, prefix)` on an S or B key: the bytes every encoding of a value starting
/// with `prefix` starts with (the escaped bytes without the terminator), and only those.
/// Appends nothing for other types.
pub fn encode_prefix(prefix: &AttributeValue, out: &mut Vec<u8>) {
    match prefix {
        AttributeValue::S(s) => escape(s.as_bytes(), out),
        AttributeValue::B(b) => escape(b, out),
        _ => {}
    }
}

/// Decodes one key attribute of type `type_name` (`"S"`, `"N"` or `"B"`) from the start of
/// `bytes`: the value (numbers in canonical form) and how many bytes it took. `None` if the
/// bytes are not such an encoding.
pub fn decode_key_attr(bytes: &[u8], type_name: &str) -> Option<(AttributeValue, usize)> {
    match type_name {
        "S" => {
            let (raw, used) = decode_bytes(bytes)?;
            Some((AttributeValue::S(String::from_utf8(raw).ok()?), used))
        }
        "B" => {
            let (raw, used) = decode_bytes(bytes)?;
            Some((AttributeValue::B(raw), used))
        }
        "N" => decode_number(bytes).map(|(n, used)| (AttributeValue::N(n), used)),
        _ => None,
    }
}

/// Decodes a whole primary key written by [`encode_key`]: the partition key, the sort key if
/// `sk_type` is given, and nothing left over.
pub fn decode_key(
    bytes: &[u8],
    pk_type: &str,
    sk_type: Option<&str>,
) -> Option<(AttributeValue, Option<AttributeValue>)> {
    let (pk, used) = decode_key_attr(bytes, pk_type)?;
    let rest = &bytes[used..];
    match sk_type {
        None => rest.is_empty().then_some((pk, None)),
        Some(t) => {
            let (sk, used) = decode_key_attr(rest, t)?;
            (used == rest.len()).then_some((pk, Some(sk)))
        }
    }
}

fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        if b == 0 {
            out.extend_from_slice(&[ESCAPE, ESCAPED_ZERO]);
        } else {
            out.push(b);
        }
    }
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    escape(bytes, out);
    out.extend_from_slice(&[ESCAPE, TERMINATOR]);
}

fn decode_bytes(bytes: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut raw = Vec::new();
    let mut i = 0;
    loop {
        let b = *bytes.get(i)?;
        if b != ESCAPE {
            raw.push(b);
            i += 1;
            continue;
        }
        match *bytes.get(i + 1)? {
            ESCAPED_ZERO => raw.push(0),
            TERMINATOR => return Some((raw, i + 2)),
            _ => return None,
        }
        i += 2;
    }
}

fn encode_number(n: &str, out: &mut Vec<u8>) {
    // Key values are validated and canonical; parse the full syntax without range checks anyway,
    // so any spelling of a value encodes identically and out-of-range values still order.
    let Some(d) = Decimal::parse_unchecked(n) else {
        out.push(NUM_INVALID);
        encode_bytes(n.as_bytes(), out);
        return;
    };
    if d.is_zero() {
        out.push(NUM_ZERO);
        return;
    }
    let start = out.len();
    out.push(NUM_POSITIVE);
    let biased = (d.exponent() + EXPONENT_BIAS).clamp(0, i32::from(u16::MAX)) as u16;
    out.extend_from_slice(&biased.to_be_bytes());
    for pair in d.digits().chunks(2) {
        let hi = pair[0];
        let lo = pair.get(1).copied().unwrap_or(0);
        out.push(hi * 10 + lo + 1);
    }
    out.push(DIGITS_END);
    if d.is_negative() {
        out[start] = NUM_NEGATIVE;
        for b in &mut out[start + 1..] {
            *b = !*b;
        }
    }
}

fn decode_number(bytes: &[u8]) -> Option<(String, usize)> {
    let class = *bytes.first()?;
    let invert = match class {
        NUM_ZERO => return Some(("0".to_owned(), 1)),
        NUM_POSITIVE => false,
        NUM_NEGATIVE => true,
        NUM_INVALID => {
            let (raw, used) = decode_bytes(&bytes[1..])?;
            return Some((String::from_utf8(raw).ok()?, used + 1));
        }
        _ => return None,
    };
    let get = |i: usize| bytes.get(i).map(|&b| if invert { !b } else { b });
    let exponent = i32::from(u16::from_be_bytes([get(1)?, get(2)?])) - EXPONENT_BIAS;
    let mut digits = Vec::new();
    let mut i = 3;
    loop {
        let b = get(i)?;
        i += 1;
        if b == DIGITS_END {
            break;
        }
        if b > 100 {
            return None;
        }
        digits.push((b - 1) / 10);
        digits.push((b - 1) % 10);
    }
    if digits.is_empty() {
        return None;
    }
    let d = Decimal::from_parts(invert, &digits, exponent)?;
    Some((d.to_string(), i))
}

/// A stable 64-bit hash of encoded key bytes (FNV-1a, then murmur3's finalizer so that every
/// bit depends on every input byte). Used to place item keys on stream shards and parallel
/// scan segments; stable across runs and platforms.
pub fn key_hash(bytes: &[u8]) -> u64 {
    let mut h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
    });
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    fn enc(v: &AttributeValue) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key_attr(v, &mut out);
        out
    }

    fn n(s: &str) -> AttributeValue {
        AttributeValue::N(number::canonicalize(s).unwrap())
    }

    fn s(x: &str) -> AttributeValue {
        AttributeValue::S(x.to_owned())
    }

    #[test]
    fn numbers_sort_numerically() {
        let sorted = [
            "-9.9999999999999999999999999999999999999E+125",
            "-1e125",
            "-1000",
            "-999.99",
            "-100",
            "-12",
            "-11.5",
            "-11",
            "-10",
            "-2",
            "-1.5",
            "-1.05",
            "-1",
            "-0.5",
            "-0.000001",
            "-1e-130",
            "0",
            "1e-130",
            "0.000001",
            "0.1",
            "0.5",
            "1",
            "1.0001",
            "1.05",
            "1.5",
            "2",
            "10",
            "11",
            "11.5",
            "12",
            "99.9",
            "100",
            "1e30",
            "9.9999999999999999999999999999999999999E+125",
        ];
        let encs: Vec<Vec<u8>> = sorted.iter().map(|x| enc(&n(x))).collect();
        for i in 0..encs.len() {
            for j in 0..encs.len() {
                assert_eq!(
                    encs[i].cmp(&encs[j]),
                    i.cmp(&j),
                    "{} vs {}",
                    sorted[i],
                    sorted[j]
                );
            }
        }
    }

    #[test]
    fn known_encodings() {
        assert_eq!(enc(&n("0")), [NUM_ZERO]);
        // 12.5 = 1.25e1: exponent 0x8001, digits 12|50 → 13, 51.
        assert_eq!(enc(&n("12.5")), [NUM_POSITIVE, 0x80, 0x01, 13, 51, 0]);
        assert_eq!(
            enc(&n("-12.5")),
            [NUM_NEGATIVE, !0x80, !0x01, !13, !51, 0xff]
        );
        assert_eq!(enc(&s("a\0b")), b"a\0\xffb\0\0");
        assert_eq!(enc(&AttributeValue::B(vec![])), [0, 0]);
        assert!(enc(&AttributeValue::Bool(true)).is_empty());
        // Any spelling of a number encodes the same.
        assert_eq!(enc(&AttributeValue::N("1e2".into())), enc(&n("100")));
    }

    #[test]
    fn strings_and_bytes_sort_bytewise() {
        let sorted: [&[u8]; 9] = [
            b"", b"\0", b"\0\0", b"\0a", b"a", b"a\0", b"a\0\xff", b"a\x01", b"ab",
        ];
        for i in 0..sorted.len() {
            for j in 0..sorted.len() {
                let (a, b) = (
                    enc(&AttributeValue::B(sorted[i].to_vec())),
                    enc(&AttributeValue::B(sorted[j].to_vec())),
                );
                assert_eq!(a.cmp(&b), i.cmp(&j), "{:?} vs {:?}", sorted[i], sorted[j]);
            }
        }
        assert!(enc(&s("Z")) < enc(&s("a")));
        assert!(enc(&s("é")) > enc(&s("z")));
    }

    #[test]
    fn composite_keys_sort_by_partition_then_sort_key() {
        let k1 = encode_key(&s("a"), Some(&s("zzz")));
        let k2 = encode_key(&s("ab"), Some(&s("a")));
        let k3 = encode_key(&s("a\0"), Some(&s("")));
        assert!(k1 < k3 && k3 < k2);
        let k4 = encode_key(&n("1"), Some(&n("999")));
        let k5 = encode_key(&n("1.5"), Some(&n("-999")));
        assert!(k4 < k5);
        assert!(k4.starts_with(&encode_key(&n("1"), None)));
        assert!(!k5.starts_with(&encode_key(&n("1"), None)));
    }

    #[test]
    fn prefix_for_begins_with() {
        let mut p = Vec::new();
        encode_prefix(&s("ab"), &mut p);
        for (x, want) in [
            ("ab", true),
            ("abc", true),
            ("ab\0", true),
            ("a", false),
            ("ac", false),
        ] {
            assert_eq!(enc(&s(x)).starts_with(&p), want, "{x:?}");
        }
        let mut p = Vec::new();
        encode_prefix(&AttributeValue::B(b"a\0".to_vec()), &mut p);
        assert!(enc(&AttributeValue::B(b"a\0\0".to_vec())).starts_with(&p));
        assert!(!enc(&AttributeValue::B(b"a".to_vec())).starts_with(&p));
    }

    #[test]
    fn decoding() {
        for v in [
            n("0"),
            n("-12.5"),
            n("1e125"),
            n("-1e-130"),
            s(""),
            s("a\0é"),
        ] {
            let mut bytes = enc(&v);
            let used = bytes.len();
            bytes.extend_from_slice(b"trailing");
            assert_eq!(
                decode_key_attr(&bytes, v.type_name()),
                Some((v.clone(), used))
            );
        }
        assert_eq!(decode_key_attr(b"abc", "S"), None);
        assert_eq!(decode_key_attr(b"a\0\x01", "S"), None);
        assert_eq!(decode_key_attr(b"\xff\0\0", "S"), None);
        assert_eq!(decode_key_attr(&[NUM_POSITIVE, 0x80, 0], "N"), None);
        assert_eq!(decode_key_attr(&[NUM_POSITIVE, 0x80, 0, 101, 0], "N"), None);
        assert_eq!(decode_key_attr(&[9], "N"), None);
        assert_eq!(decode_key_attr(&[0, 0], "BOOL"), None);
        let key = encode_key(&s("p"), Some(&n("7")));
        assert_eq!(
            decode_key(&key, "S", Some("N")),
            Some((s("p"), Some(n("7"))))
        );
        assert_eq!(decode_key(&key, "S", None), None);
        assert_eq!(
            decode_key(&encode_key(&s("p"), None), "S", None),
            Some((s("p"), None))
        );
    }

    #[test]
    fn out_of_range_numbers_still_order() {
        let big = AttributeValue::N(format!("1{}", "0".repeat(200)));
        let max = n("9.9999999999999999999999999999999999999E+125");
        assert!(enc(&big) > enc(&max));
        let junk = AttributeValue::N("junk".into());
        assert!(enc(&junk) > enc(&big));
        assert_eq!(
            decode_key_attr(&enc(&junk), "N"),
            Some((junk.clone(), enc(&junk).len()))
        );
    }

    fn arb_number() -> impl Strategy<Value = String> {
        let digits = proptest::collection::vec(0u8..10, 1..=38);
        (any::<bool>(), digits, -130i32..=125, 0usize..4).prop_map(|(neg, digits, exp, trim)| {
            // Bias towards shared prefixes and small digit counts by trimming at random.
            let keep = if trim == 0 {
                digits.len()
            } else {
                digits.len().min(trim * 2)
            };
            let d = Decimal::from_parts(neg, &digits[..keep], exp).unwrap();
            let d = if d.check().is_ok() { d } else { Decimal::ZERO };
            d.to_string()
        })
    }

    fn arb_small_number() -> impl Strategy<Value = String> {
        (-2000i32..2000, -3i32..3)
            .prop_map(|(m, e)| number::canonicalize(&format!("{m}e{e}")).unwrap())
    }

    fn arb_key_value() -> impl Strategy<Value = AttributeValue> {
        prop_oneof![
            "[a-c\\x00é]{0,6}".prop_map(AttributeValue::S),
            proptest::collection::vec(
                prop_oneof![Just(0u8), Just(1), Just(0xff), any::<u8>()],
                0..6
            )
            .prop_map(AttributeValue::B),
            prop_oneof![arb_number(), arb_small_number()].prop_map(AttributeValue::N),
        ]
    }

    /// DynamoDB's order for two values of the same type.
    fn value_order(a: &AttributeValue, b: &AttributeValue) -> Ordering {
        match (a, b) {
            (AttributeValue::S(x), AttributeValue::S(y)) => x.as_bytes().cmp(y.as_bytes()),
            (AttributeValue::B(x), AttributeValue::B(y)) => x.cmp(y),
            (AttributeValue::N(x), AttributeValue::N(y)) => number::compare(x, y),
            _ => unreachable!(),
        }
    }

    /// Two values of one key type.
    fn same_type_pair() -> impl Strategy<Value = (AttributeValue, AttributeValue)> {
        prop_oneof![
            ("[a-c\\x00]{0,5}", "[a-c\\x00]{0,5}")
                .prop_map(|(a, b)| (AttributeValue::S(a), AttributeValue::S(b))),
            (
                proptest::collection::vec(prop_oneof![Just(0u8), Just(1), any::<u8>()], 0..5),
                proptest::collection::vec(prop_oneof![Just(0u8), Just(1), any::<u8>()], 0..5)
            )
                .prop_map(|(a, b)| (AttributeValue::B(a), AttributeValue::B(b))),
            (arb_number(), arb_number())
                .prop_map(|(a, b)| (AttributeValue::N(a), AttributeValue::N(b))),
            (arb_small_number(), arb_small_number())
                .prop_map(|(a, b)| (AttributeValue::N(a), AttributeValue::N(b))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn encoding_order_is_value_order((a, b) in same_type_pair()) {
            prop_assert_eq!(enc(&a).cmp(&enc(&b)), value_order(&a, &b), "{:?} vs {:?}", a, b);
        }

        #[test]
        fn composite_order_is_lexicographic(
            (pa, pb) in same_type_pair(),
            (sa, sb) in same_type_pair(),
        ) {
            let want = value_order(&pa, &pb).then_with(|| value_order(&sa, &sb));
            let (ka, kb) = (encode_key(&pa, Some(&sa)), encode_key(&pb, Some(&sb)));
            prop_assert_eq!(ka.cmp(&kb), want);
            // Self-delimiting: one encoding never ends inside another distinct one.
            let (ea, eb) = (enc(&pa), enc(&pb));
            if ea != eb {
                prop_assert!(!ea.starts_with(&eb) && !eb.starts_with(&ea));
            }
        }

        #[test]
        fn decode_inverts_encode(v in arb_key_value(), sk in arb_key_value()) {
            let e = enc(&v);
            prop_assert_eq!(decode_key_attr(&e, v.type_name()), Some((v.clone(), e.len())));
            let key = encode_key(&v, Some(&sk));
            prop_assert_eq!(
                decode_key(&key, v.type_name(), Some(sk.type_name())),
                Some((v.clone(), Some(sk.clone())))
            );
        }

        #[test]
        fn begins_with_prefix_matches(a in "[ab\\x00]{0,5}", p in "[ab\\x00]{0,3}") {
            let mut pre = Vec::new();
            encode_prefix(&AttributeValue::S(p.clone()), &mut pre);
            prop_assert_eq!(enc(&AttributeValue::S(a.clone())).starts_with(&pre), a.starts_with(&p));
        }
    }
}
