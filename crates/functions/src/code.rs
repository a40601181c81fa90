//! Unpacking uploaded deployment packages (zip files) into a code directory, safely.
//!
//! Invariant: nothing is ever written outside `dest`. Entries with `..`, absolute paths, or
//! symlinks whose target leaves `dest` are refused, and every file's parent directory is checked
//! after symlink resolution before anything is written into it.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

/// AWS's limit on the unzipped size of a deployment package.
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;

/// Why a deployment package was refused.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// Not a readable zip file (the message is the one AWS gives).
    #[error("Could not unzip uploaded file. Please check your file, then try to upload again.")]
    BadZip,
    /// An entry would land outside the destination (`..`, absolute path, escaping symlink).
    #[error("zip entry {0:?} would be written outside the code directory")]
    UnsafePath(String),
    /// The unzipped contents exceed [`MAX_UNZIPPED_BYTES`].
    #[error("Unzipped size must be smaller than 262144000 bytes")]
    TooLarge,
    /// Writing the unpacked files failed.
    #[error("could not write unpacked code: {0}")]
    Io(#[from] io::Error),
}

const S_IFMT: u32 = 0o170000;
const S_IFLNK: u32 = 0o120000;

/// Unpacks `zip` into `dest` (created if missing) and returns the total unzipped size in bytes.
///
/// Unix mode bits recorded in the zip are kept (so `bootstrap` stays executable); owners always
/// keep read/write access so the host can clean the directory up.
pub fn unpack_zip(zip: &[u8], dest: &Path) -> Result<u64, CodeError> {
    let mut archive = zip::ZipArchive::new(io::Cursor::new(zip)).map_err(|_| CodeError::BadZip)?;

    // Cheap up-front check on the declared sizes; the copy below enforces the real limit.
    let mut declared: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|_| CodeError::BadZip)?;
        declared = declared.saturating_add(entry.size());
    }
    if declared > MAX_UNZIPPED_BYTES {
        return Err(CodeError::TooLarge);
    }

    fs::create_dir_all(dest)?;
    let root = dest.canonicalize()?;
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];

    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|_| CodeError::BadZip)?;
        let name = entry.name().to_string();
        let relative = entry
            .enclosed_name()
            .ok_or_else(|| CodeError::UnsafePath(name.clone()))?;
        if relative.as_os_str().is_empty() {
            continue;
        }
        let target = root.join(&relative);
        let mode = entry.unix_mode();

        if entry.is_dir() {
            fs::create_dir_all(&target)?;
            ensure_inside(&root, &target, &name)?;
            if let Some(mode) = mode {
                fs::set_permissions(&target, fs::Permissions::from_mode((mode & 0o777) | 0o700))?;
            }
            continue;
        }

        let parent = target.parent().unwrap_or(&root).to_path_buf();
        fs::create_dir_all(&parent)?;
        ensure_inside(&root, &parent, &name)?;
        if fs::symlink_metadata(&target).is_ok() {
            // A second entry for the same path (possibly through a symlink made earlier): refuse
            // rather than write through whatever is there now.
            return Err(CodeError::UnsafePath(name));
        }

        if mode.is_some_and(|m| m & S_IFMT == S_IFLNK) {
            let mut link = String::new();
            entry
                .read_to_string(&mut link)
                .map_err(|_| CodeError::BadZip)?;
            if !link_stays_inside(&relative, Path::new(&link)) {
                return Err(CodeError::UnsafePath(name));
            }
            std::os::unix::fs::symlink(&link, &target)?;
            total = total.saturating_add(link.len() as u64);
            continue;
        }

        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)?;
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(CodeError::BadZip),
            };
            total = total.saturating_add(n as u64);
            if total > MAX_UNZIPPED_BYTES {
                return Err(CodeError::TooLarge);
            }
            out.write_all(&buf[..n])?;
        }
        drop(out);
        let perms = match mode {
            Some(mode) => (mode & 0o777) | 0o600,
            None => 0o644,
        };
        fs::set_permissions(&target, fs::Permissions::from_mode(perms))?;
    }
    Ok(total)
}

/// Checks, after resolving symlinks, that `path` is `root` or below it.
fn ensure_inside(root: &Path, path: &Path, entry: &str) -> Result<(), CodeError> {
    let real = path.canonicalize()?;
    if real.starts_with(root) {
        Ok(())
    } else {
        Err(CodeError::UnsafePath(entry.to_string()))
    }
}

/// Whether a symlink at `link_path` (relative to the code root) pointing at `target` resolves,
/// lexically, to somewhere inside the code root.
fn link_stays_inside(link_path: &Path, target: &Path) -> bool {
    if target.as_os_str().is_empty() {
        return false;
    }
    let mut resolved: Vec<Component<'_>> = link_path
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for component in target.components() {
        match component {
            Component::Normal(_) => resolved.push(component),
            Component::CurDir => {}
            Component::ParentDir => {
                if resolved.pop().is_none() {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    fn build(entries: &[(&str, &[u8], Option<u32>)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        for (name, data, mode) in entries {
            let mut opts = SimpleFileOptions::default();
            if let Some(mode) = mode {
                opts = opts.unix_permissions(*mode);
            }
            if name.ends_with('/') {
                w.add_directory(*name, opts).unwrap();
            } else {
                w.start_file(*name, opts).unwrap();
                w.write_all(data).unwrap();
            }
        }
        w.finish().unwrap().into_inner()
    }

    fn build_symlink(name: &str, target: &str) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        w.add_symlink(name, target, SimpleFileOptions::default())
            .unwrap();
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn refuses_parent_dir_entries() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("code");
        let zip = build(&[("../evil", b"x", None)]);
        let err = unpack_zip(&zip, &dest).unwrap_err();
        assert!(
            matches!(err, CodeError::UnsafePath(ref n) if n == "../evil"),
            "{err:?}"
        );
        assert!(!dir.path().join("evil").exists());

        let zip = build(&[("a/../../evil", b"x", None)]);
        assert!(matches!(
            unpack_zip(&zip, &dest),
            Err(CodeError::UnsafePath(_))
        ));
        assert!(!dir.path().join("evil").exists());
    }

    #[test]
    fn refuses_absolute_paths() {
        let dir = tempfile::tempdir().unwrap();
        let zip = build(&[("/tmp/tributary-evil", b"x", None)]);
        let err = unpack_zip(&zip, &dir.path().join("code")).unwrap_err();
        assert!(matches!(err, CodeError::UnsafePath(_)), "{err:?}");
    }

    #[test]
    fn refuses_escaping_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        for target in ["../../outside", "/etc"] {
            let zip = build_symlink("lib/link", target);
            let dest = dir.path().join(format!("code{}", target.len()));
            let err = unpack_zip(&zip, &dest).unwrap_err();
            assert!(matches!(err, CodeError::UnsafePath(_)), "{target}: {err:?}");
        }
        // A link that stays inside is fine.
        let zip = build_symlink("lib/link", "../app.py");
        unpack_zip(&zip, &dir.path().join("ok")).unwrap();
        let link = fs::read_link(dir.path().join("ok/lib/link")).unwrap();
        assert_eq!(link, Path::new("../app.py"));
    }

    #[test]
    fn accepts_nested_dirs_and_keeps_exec_bit() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("code");
        let zip = build(&[
            ("pkg/", b"", Some(0o755)),
            ("pkg/sub/mod.py", b"X = 1\n", Some(0o644)),
            ("bootstrap", b"#!/bin/sh\n", Some(0o755)),
            ("plain.txt", b"hello", None),
        ]);
        let total = unpack_zip(&zip, &dest).unwrap();
        assert_eq!(total, 6 + 10 + 5);
        assert_eq!(fs::read(dest.join("pkg/sub/mod.py")).unwrap(), b"X = 1\n");
        let mode = fs::metadata(dest.join("bootstrap"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        let mode = fs::metadata(dest.join("pkg/sub/mod.py"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0);
    }

    #[test]
    fn rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let err = unpack_zip(b"not a zip at all", dir.path()).unwrap_err();
        assert!(matches!(err, CodeError::BadZip));
        assert_eq!(
            err.to_string(),
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        );
    }

    #[test]
    fn symlink_targets_are_resolved_lexically() {
        assert!(link_stays_inside(Path::new("a/b/link"), Path::new("../c")));
        assert!(link_stays_inside(
            Path::new("a/link"),
            Path::new("./x/../y")
        ));
        assert!(!link_stays_inside(Path::new("link"), Path::new("..")));
        assert!(!link_stays_inside(
            Path::new("a/link"),
            Path::new("../../x")
        ));
        assert!(!link_stays_inside(Path::new("a/link"), Path::new("/x")));
    }
}
