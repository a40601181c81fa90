//! Event filter patterns: the first line is a pattern, the rest a record; compiling and
//! matching never panic, whatever either holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tributary_esm::filter::FilterSet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (pattern, record) = text.split_once('\n').unwrap_or((text, "{}"));
    let Ok(set) = FilterSet::compile(&[pattern.to_owned()]) else {
        return;
    };
    if let Ok(record) = serde_json::from_str::<serde_json::Value>(record) {
        let _ = set.matches(&record);
    }
});
