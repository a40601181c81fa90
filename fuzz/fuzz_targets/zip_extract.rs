//! Unpacking a function's code zip: any archive is unpacked or refused, and nothing is ever
//! written outside the destination, neither by a path (`../x`, `/x`) nor through a symlink.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tributary_functions::unpack_zip;

/// Every symlink under `dir` that resolves, resolves inside `root`.
fn links_stay_inside(root: &Path, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            if let Ok(real) = p.canonicalize() {
                assert!(real.starts_with(root), "{p:?} leads out to {real:?}");
            }
        } else if meta.is_dir() {
            links_stay_inside(root, &p);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dest = tmp.path().join("task");
    let _ = unpack_zip(data, &dest);
    let beside: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("readable")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "task")
        .collect();
    assert!(
        beside.is_empty(),
        "written outside the destination: {beside:?}"
    );
    if let Ok(root) = dest.canonicalize() {
        links_stay_inside(&root, &root);
    }
});
