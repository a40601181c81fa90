//! The store's encoding of items: compact binary, decoded in one pass with no JSON and no
//! second validation (an item is validated once, on the way in).
//!
//! ```text
//! item   = FORMAT count:varint (name:bytes value)*      names in the map's (sorted) order
//! value  = tag payload
//!   S, N, B      bytes                                  varint length, then the bytes
//!   SS, NS, BS   count:varint bytes*
//!   M            count:varint (name:bytes value)*
//!   L            count:varint value*
//!   NULL, TRUE, FALSE                                   no payload
//! ```
//!
//! An item whose encoding is at least [`COMPRESS_FROM`] bytes is stored as an LZ4 block of
//! it instead, when that saves at least an eighth (repeated names in maps and lists, text,
//! JSON in strings):
//!
//! ```text
//! packed = FORMAT_LZ4 len:varint lz4-block               len: the bytes of the `item` inside
//! ```
//!
//! A stream record is stored the same way, its images as items:
//!
//! ```text
//! record = RECORD_FORMAT id:bytes event:u8 seq:u128 arrival_ms:i64 size:u64 view:u8 flags:u8
//!          keys:map [new:map] [old:map]                  fixed-width integers little-endian;
//!                                                        flags: 1 new, 2 old, 4 TTL delete
//! ```
//!
//! Values written before this encoding are JSON; [`decode_item`] and [`decode_record`] still
//! read them (a JSON object starts with `{`, never [`FORMAT`] or [`RECORD_FORMAT`]).

use std::collections::BTreeMap;

use crate::attr::{AttributeValue, Item, STORED_NESTING_LEVELS};
use crate::stream::{EventName, StreamRecord, StreamViewType};

/// The first byte of an encoded item.
pub const FORMAT: u8 = 0xB1;
/// The first byte of an encoded stream record.
pub const RECORD_FORMAT: u8 = 0xB2;
/// The first byte of an item stored as an LZ4 block of its encoding.
pub const FORMAT_LZ4: u8 = 0xB3;
/// Encodings shorter than this are stored as they are: too little to gain.
pub const COMPRESS_FROM: usize = 128;
/// The largest encoding a packed item may claim to hold (items are at most 400 KB; their
/// encoding adds a few bytes per value): what a corrupt length may make a read allocate.
const MAX_UNPACKED: usize = 4 << 20;

const HAS_NEW: u8 = 1;
const HAS_OLD: u8 = 2;
const TTL_DELETE: u8 = 4;

const S: u8 = 1;
const N: u8 = 2;
const B: u8 = 3;
const SS: u8 = 4;
const NS: u8 = 5;
const BS: u8 = 6;
const M: u8 = 7;
const L: u8 = 8;
const NULL: u8 = 9;
const TRUE: u8 = 10;
const FALSE: u8 = 11;

/// Appends the encoding of `item` to `out`.
pub fn encode_item_into(item: &Item, out: &mut Vec<u8>) {
    out.push(FORMAT);
    encode_map(item, out);
}

/// The encoding of `item`, as the store keeps it: packed into an LZ4 block when that is at
/// least an eighth smaller.
pub fn encode_item(item: &Item) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    encode_item_into(item, &mut out);
    if out.len() < COMPRESS_FROM {
        return out;
    }
    let block = lz4_flex::block::compress(&out);
    let mut packed = Vec::with_capacity(block.len() + 6);
    packed.push(FORMAT_LZ4);
    varint(out.len(), &mut packed);
    packed.extend_from_slice(&block);
    if packed.len() <= out.len() - out.len() / 8 {
        packed
    } else {
        out
    }
}

fn varint(mut n: usize, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7F) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn bytes(b: &[u8], out: &mut Vec<u8>) {
    varint(b.len(), out);
    out.extend_from_slice(b);
}

fn encode_map(m: &BTreeMap<String, AttributeValue>, out: &mut Vec<u8>) {
    varint(m.len(), out);
    for (k, v) in m {
        bytes(k.as_bytes(), out);
        encode_value(v, out);
    }
}

fn encode_value(v: &AttributeValue, out: &mut Vec<u8>) {
    match v {
        AttributeValue::S(s) => {
            out.push(S);
            bytes(s.as_bytes(), out);
        }
        AttributeValue::N(n) => {
            out.push(N);
            bytes(n.as_bytes(), out);
        }
        AttributeValue::B(b) => {
            out.push(B);
            bytes(b, out);
        }
        AttributeValue::Ss(v) => {
            out.push(SS);
            varint(v.len(), out);
            v.iter().for_each(|s| bytes(s.as_bytes(), out));
        }
        AttributeValue::Ns(v) => {
            out.push(NS);
            varint(v.len(), out);
            v.iter().for_each(|s| bytes(s.as_bytes(), out));
        }
        AttributeValue::Bs(v) => {
            out.push(BS);
            varint(v.len(), out);
            v.iter().for_each(|b| bytes(b, out));
        }
        AttributeValue::M(m) => {
            out.push(M);
            encode_map(m, out);
        }
        AttributeValue::L(l) => {
            out.push(L);
            varint(l.len(), out);
            l.iter().for_each(|v| encode_value(v, out));
        }
        AttributeValue::Null => out.push(NULL),
        AttributeValue::Bool(true) => out.push(TRUE),
        AttributeValue::Bool(false) => out.push(FALSE),
    }
}

/// The encoding of a stream record.
pub fn encode_record(r: &StreamRecord) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.push(RECORD_FORMAT);
    bytes(r.event_id.as_bytes(), &mut out);
    out.push(match r.event_name {
        EventName::Insert => 0,
        EventName::Modify => 1,
        EventName::Remove => 2,
    });
    out.extend_from_slice(&r.sequence.to_le_bytes());
    out.extend_from_slice(&r.arrival_ms.to_le_bytes());
    out.extend_from_slice(&r.size_bytes.to_le_bytes());
    out.push(match r.view_type {
        StreamViewType::KeysOnly => 0,
        StreamViewType::NewImage => 1,
        StreamViewType::OldImage => 2,
        StreamViewType::NewAndOldImages => 3,
    });
    let mut flags = 0;
    if r.new_image.is_some() {
        flags |= HAS_NEW;
    }
    if r.old_image.is_some() {
        flags |= HAS_OLD;
    }
    if r.ttl_delete {
        flags |= TTL_DELETE;
    }
    out.push(flags);
    encode_map(&r.keys, &mut out);
    for image in [&r.new_image, &r.old_image].into_iter().flatten() {
        encode_map(image, &mut out);
    }
    out
}

/// Reads a stream record the store wrote: this encoding, or the JSON of earlier versions.
pub fn decode_record(data: &[u8]) -> Result<StreamRecord, DecodeError> {
    let Some((&RECORD_FORMAT, rest)) = data.split_first() else {
        return serde_json::from_slice(data).map_err(|e| DecodeError(e.to_string()));
    };
    let mut r = Reader { data: rest, at: 0 };
    let event_id = r.string()?;
    let event_name = match r.byte()? {
        0 => EventName::Insert,
        1 => EventName::Modify,
        2 => EventName::Remove,
        b => return Err(DecodeError(format!("unknown event kind {b}"))),
    };
    let sequence = u128::from_le_bytes(r.fixed()?);
    let arrival_ms = i64::from_le_bytes(r.fixed()?);
    let size_bytes = u64::from_le_bytes(r.fixed()?);
    let view_type = match r.byte()? {
        0 => StreamViewType::KeysOnly,
        1 => StreamViewType::NewImage,
        2 => StreamViewType::OldImage,
        3 => StreamViewType::NewAndOldImages,
        b => return Err(DecodeError(format!("unknown stream view type {b}"))),
    };
    let flags = r.byte()?;
    let keys = r.map(1)?;
    let new_image = if flags & HAS_NEW != 0 {
        Some(r.map(1)?)
    } else {
        None
    };
    let old_image = if flags & HAS_OLD != 0 {
        Some(r.map(1)?)
    } else {
        None
    };
    if r.at != rest.len() {
        return Err(DecodeError("trailing bytes after a stream record".into()));
    }
    Ok(StreamRecord {
        event_id,
        event_name,
        sequence,
        arrival_ms,
        keys,
        new_image,
        old_image,
        size_bytes,
        view_type,
        ttl_delete: flags & TTL_DELETE != 0,
    })
}

/// Why stored bytes are not an item.
#[derive(Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Reads an item the store wrote: this encoding, or the JSON of earlier versions.
pub fn decode_item(data: &[u8]) -> Result<Item, DecodeError> {
    match data.split_first() {
        Some((&FORMAT, rest)) => {
            let mut r = Reader { data: rest, at: 0 };
            let item = r.map(1)?;
            if r.at != rest.len() {
                return Err(DecodeError("trailing bytes after an item".into()));
            }
            Ok(item)
        }
        Some((&FORMAT_LZ4, rest)) => {
            let mut r = Reader { data: rest, at: 0 };
            let len = r.varint()?;
            if len > MAX_UNPACKED {
                return Err(DecodeError(format!("a packed item claims {len} bytes")));
            }
            // One buffer per thread, reused: reads unpack into it and decode from it.
            thread_local! {
                static UNPACKED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
            }
            UNPACKED
                .with_borrow_mut(|buf| {
                    buf.resize(len, 0);
                    let n = lz4_flex::block::decompress_into(&rest[r.at..], buf)
                        .map_err(|e| DecodeError(format!("a packed item does not unpack: {e}")))?;
                    match buf[..n].split_first() {
                        Some((&FORMAT, inner)) if n == len => {
                            let mut r = Reader { data: inner, at: 0 };
                            let item = r.map(1)?;
                            if r.at != inner.len() {
                                return Err(DecodeError("trailing bytes after an item".into()));
                            }
                            Ok(item)
                        }
                        _ => Err(DecodeError(
                            "a packed item unpacks to something else".into(),
                        )),
                    }
                })
                .inspect(|_| {
                    UNPACKED.with_borrow_mut(|buf| {
                        if buf.capacity() > 64 << 10 {
                            *buf = Vec::new();
                        }
                    })
                })
        }
        _ => serde_json::from_slice(data).map_err(|e| DecodeError(e.to_string())),
    }
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self
            .data
            .get(self.at)
            .ok_or_else(|| DecodeError("an item ends early".into()))?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<usize, DecodeError> {
        let mut n = 0usize;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= usize::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(DecodeError("a length is too long".into()))
    }

    fn bytes(&mut self) -> Result<&[u8], DecodeError> {
        let len = self.varint()?;
        let end = self
            .at
            .checked_add(len)
            .filter(|e| *e <= self.data.len())
            .ok_or_else(|| DecodeError("an item ends early".into()))?;
        let b = &self.data[self.at..end];
        self.at = end;
        Ok(b)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let b = self
            .data
            .get(self.at..self.at + N)
            .ok_or_else(|| DecodeError("a record ends early".into()))?;
        self.at += N;
        Ok(b.try_into().unwrap_or([0; N]))
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| DecodeError("a string is not UTF-8".into()))
    }

    /// A count of things each at least one byte long: never more than the bytes left, so a
    /// corrupt count cannot make a huge allocation.
    fn count(&mut self) -> Result<usize, DecodeError> {
        let n = self.varint()?;
        if n > self.data.len() - self.at {
            return Err(DecodeError("a count exceeds the item".into()));
        }
        Ok(n)
    }

    fn map(&mut self, depth: usize) -> Result<BTreeMap<String, AttributeValue>, DecodeError> {
        let n = self.count()?;
        let mut m = BTreeMap::new();
        for _ in 0..n {
            let k = self.string()?;
            let v = self.value(depth)?;
            m.insert(k, v);
        }
        Ok(m)
    }

    fn value(&mut self, depth: usize) -> Result<AttributeValue, DecodeError> {
        let tag = self.byte()?;
        let nested = |depth: usize| {
            if depth >= STORED_NESTING_LEVELS {
                Err(DecodeError("an item is nested too deeply".into()))
            } else {
                Ok(depth + 1)
            }
        };
        Ok(match tag {
            S => AttributeValue::S(self.string()?),
            N => AttributeValue::N(self.string()?),
            B => AttributeValue::B(self.bytes()?.to_vec()),
            SS | NS => {
                let n = self.count()?;
                let v = (0..n)
                    .map(|_| self.string())
                    .collect::<Result<Vec<_>, _>>()?;
                if tag == SS {
                    AttributeValue::Ss(v)
                } else {
                    AttributeValue::Ns(v)
                }
            }
            BS => {
                let n = self.count()?;
                let v = (0..n)
                    .map(|_| self.bytes().map(<[u8]>::to_vec))
                    .collect::<Result<Vec<_>, _>>()?;
                AttributeValue::Bs(v)
            }
            M => AttributeValue::M(self.map(nested(depth)?)?),
            L => {
                let depth = nested(depth)?;
                let n = self.count()?;
                let v = (0..n)
                    .map(|_| self.value(depth))
                    .collect::<Result<Vec<_>, _>>()?;
                AttributeValue::L(v)
            }
            NULL => AttributeValue::Null,
            TRUE => AttributeValue::Bool(true),
            FALSE => AttributeValue::Bool(false),
            other => return Err(DecodeError(format!("unknown value tag {other}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Item {
        let v = json!({
            "pk": {"S": "k1"}, "n": {"N": "-1.5e3"}, "b": {"B": "AAEC"},
            "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": ["Zm9v", ""]},
            "m": {"M": {"x": {"L": [{"NULL": true}, {"BOOL": false}, {"BOOL": true}, {"S": ""}]}}},
            "empty": {"M": {}}, "long": {"S": "x".repeat(300)},
        });
        let item: Item = serde_json::from_value(v).unwrap();
        item
    }

    #[test]
    fn round_trips_every_type() {
        let item = sample();
        let mut enc = Vec::new();
        encode_item_into(&item, &mut enc);
        assert_eq!(enc[0], FORMAT);
        assert_eq!(decode_item(&enc).unwrap(), item);
        // Smaller than the JSON it replaces.
        assert!(enc.len() < serde_json::to_vec(&item).unwrap().len() / 2 + 300);
    }

    #[test]
    fn long_items_are_packed_when_that_saves_an_eighth() {
        // The sample's 300 x "x" packs well.
        let item = sample();
        let (mut plain, packed) = (Vec::new(), encode_item(&item));
        encode_item_into(&item, &mut plain);
        assert_eq!(packed[0], FORMAT_LZ4);
        assert!(
            packed.len() < plain.len() / 2,
            "{} of {}",
            packed.len(),
            plain.len()
        );
        assert_eq!(decode_item(&packed).unwrap(), item);
        // Short items, and long ones that do not pack, stay as they are.
        let short: Item = serde_json::from_value(json!({"pk": {"S": "k1"}})).unwrap();
        assert_eq!(encode_item(&short)[0], FORMAT);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: String = (0..400)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'!' + (x >> 58) as u8)
            })
            .collect();
        let noisy: Item = serde_json::from_value(json!({"pk": {"S": noise}})).unwrap();
        let enc = encode_item(&noisy);
        assert_eq!(enc[0], FORMAT);
        assert_eq!(decode_item(&enc).unwrap(), noisy);
    }

    #[test]
    fn corrupt_packed_items_are_errors_not_panics() {
        let packed = encode_item(&sample());
        // Cut short, a length beyond the cap, a length that does not match, garbage.
        for bad in [
            packed[..packed.len() / 2].to_vec(),
            [&[FORMAT_LZ4, 0xFF, 0xFF, 0xFF, 0x7F][..], &packed[3..]].concat(),
            [&[FORMAT_LZ4, 5][..], &packed[3..]].concat(),
            vec![FORMAT_LZ4],
            vec![FORMAT_LZ4, 10, 0xF0, 1, 2, 3],
        ] {
            assert!(decode_item(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn still_reads_the_json_of_earlier_versions() {
        let item = sample();
        let json = serde_json::to_vec(&item).unwrap();
        assert_eq!(decode_item(&json).unwrap(), item);
    }

    #[test]
    fn corrupt_bytes_are_errors_not_panics() {
        let enc = encode_item(&sample());
        for cut in 1..enc.len() {
            assert!(decode_item(&enc[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode_item(&[FORMAT, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]).is_err());
        assert!(decode_item(&[FORMAT, 1, 1, b'a', 99]).is_err());
        let mut trailing = enc.clone();
        trailing.push(0);
        assert!(decode_item(&trailing).is_err());
        // Nesting past what the store keeps is refused, without recursing further.
        let mut deep = vec![FORMAT, 1, 1, b'a'];
        for _ in 0..100 {
            deep.extend_from_slice(&[L, 1]);
        }
        deep.push(NULL);
        assert!(decode_item(&deep).is_err());
    }

    fn records() -> Vec<StreamRecord> {
        let item = sample();
        let keys: Item = item
            .iter()
            .filter(|(k, _)| *k == "pk")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut other = item.clone();
        other.insert("n".into(), AttributeValue::N("2".into()));
        let mut ttl = StreamRecord::describe(
            "e3".into(),
            crate::stream::SEQUENCE_BASE + 3,
            1_700_000_000_123,
            StreamViewType::OldImage,
            keys.clone(),
            Some(&item),
            None,
        );
        ttl.ttl_delete = true;
        vec![
            StreamRecord::describe(
                "e1".into(),
                crate::stream::SEQUENCE_BASE + 1,
                -5,
                StreamViewType::NewAndOldImages,
                keys.clone(),
                None,
                Some(&item),
            ),
            StreamRecord::describe(
                "e2".into(),
                u128::MAX,
                i64::MAX,
                StreamViewType::NewAndOldImages,
                keys.clone(),
                Some(&item),
                Some(&other),
            ),
            StreamRecord::describe(
                "e4".into(),
                crate::stream::SEQUENCE_BASE,
                0,
                StreamViewType::KeysOnly,
                keys,
                Some(&item),
                Some(&other),
            ),
            ttl,
        ]
    }

    #[test]
    fn stream_records_round_trip_and_old_json_still_reads() {
        for r in records() {
            let enc = encode_record(&r);
            assert_eq!(enc[0], RECORD_FORMAT);
            assert_eq!(decode_record(&enc).unwrap(), r);
            let json = serde_json::to_vec(&r).unwrap();
            assert_eq!(decode_record(&json).unwrap(), r);
            assert!(enc.len() < json.len());
        }
    }

    #[test]
    fn corrupt_stream_records_are_errors_not_panics() {
        for r in records() {
            let enc = encode_record(&r);
            for cut in 1..enc.len() {
                assert!(decode_record(&enc[..cut]).is_err(), "cut at {cut}");
            }
            let mut trailing = enc.clone();
            trailing.push(0);
            assert!(decode_record(&trailing).is_err());
        }
        assert!(decode_record(&[RECORD_FORMAT, 0, 9]).is_err());
    }
}
