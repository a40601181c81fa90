//! DynamoDB JSON items: what `item_from_json` accepts survives the store's binary codec
//! unchanged, and the codec never panics on bytes it did not write (a corrupt file).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_model::attr::{item_from_json, item_to_json};
use tributary_model::codec::{decode_item, decode_record, encode_item};

fuzz_target!(|data: &[u8]| {
    let _ = decode_item(data);
    let _ = decode_record(data);
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(item) = item_from_json(&json) else {
        return;
    };
    let bytes = encode_item(&item);
    let back = decode_item(&bytes).expect("an encoded item decodes");
    assert_eq!(back, item, "codec round trip");
    assert_eq!(item_to_json(&back), item_to_json(&item));
});
