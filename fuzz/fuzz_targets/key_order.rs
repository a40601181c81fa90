//! The order-preserving key encoding: two values of one key type encode in DynamoDB's order
//! (S by UTF-8 bytes, B by unsigned bytes, N by numeric value), and every encoding decodes back
//! to its value, alone and as a partition key followed by a sort key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_model::attr::AttributeValue;
use tributary_model::keyenc::{decode_key, encode_key};
use tributary_model::number::Decimal;

fn value(kind: u8, bytes: &[u8]) -> Option<(AttributeValue, &'static str)> {
    match kind % 3 {
        0 => Some((
            AttributeValue::S(String::from_utf8(bytes.to_vec()).ok()?),
            "S",
        )),
        1 => Some((AttributeValue::B(bytes.to_vec()), "B")),
        _ => {
            let text = std::str::from_utf8(bytes).ok()?;
            let n = Decimal::parse(text).ok()?;
            Some((AttributeValue::N(text.to_owned()), "N")).filter(|_| n == n)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let cut = rest.iter().position(|&b| b == b'|').unwrap_or(rest.len());
    let (a, b) = (&rest[..cut], rest.get(cut + 1..).unwrap_or_default());
    let (Some((va, t)), Some((vb, _))) = (value(kind, a), value(kind, b)) else {
        return;
    };
    let (ea, eb) = (encode_key(&va, None), encode_key(&vb, None));
    let want = match (&va, &vb) {
        (AttributeValue::S(x), AttributeValue::S(y)) => x.as_bytes().cmp(y.as_bytes()),
        (AttributeValue::B(x), AttributeValue::B(y)) => x.cmp(y),
        (AttributeValue::N(x), AttributeValue::N(y)) => {
            Decimal::parse(x).unwrap().cmp(&Decimal::parse(y).unwrap())
        }
        _ => unreachable!(),
    };
    assert_eq!(ea.cmp(&eb), want, "order of {va:?} and {vb:?}");
    let (pk, sk) = decode_key(&encode_key(&va, Some(&vb)), t, Some(t)).expect("decodes");
    let same = |x: &AttributeValue, y: &AttributeValue| match (x, y) {
        (AttributeValue::N(x), AttributeValue::N(y)) => {
            Decimal::parse(x).unwrap() == Decimal::parse(y).unwrap()
        }
        _ => x == y,
    };
    assert!(same(&pk, &va) && same(&sk.unwrap(), &vb), "round trip");
});
