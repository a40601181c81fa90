//! Function code that is not yet a package: a local folder (templates deployed with
//! `tributary deploy`, whose `CodeUri` is a path) or inline source (`Code.ZipFile`).
//!
//! Packages are built deterministically (entries sorted, fixed timestamps), so the same
//! files give the same package and the same `CodeSha256`: a redeploy without changes
//! changes nothing, and a changed file is an update of the function's code.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

/// The most a local folder may hold: Lambda's limit for unzipped code.
const MAX_UNZIPPED: u64 = 250 * 1024 * 1024;

/// What a local code location holds: a ready package (a `.zip` or `.jar` file), or the
/// files to pack, sorted by path, with their modes.
enum Local {
    Package(Vec<u8>),
    Files(Vec<(String, Vec<u8>, u32)>),
}

fn read_local(path: &str) -> Result<Local, String> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(format!(
            "'CodeUri' is not a valid S3 Uri of the form 's3://bucket/key' with optional versionId query parameter: {path} is a local path, which only `tributary deploy` (or `aws cloudformation package`) can deploy"
        ));
    }
    let meta = std::fs::metadata(p).map_err(|e| format!("Cannot read the code at {path}: {e}"))?;
    if meta.is_file() {
        let bytes = std::fs::read(p).map_err(|e| format!("Cannot read {path}: {e}"))?;
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".zip") || lower.ends_with(".jar") {
            return Ok(Local::Package(bytes));
        }
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "code".into());
        return Ok(Local::Files(vec![(name, bytes, mode_of(&meta))]));
    }
    let mut files = Vec::new();
    collect(p, p, &mut files)?;
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut total = 0u64;
    let mut entries = Vec::new();
    for (rel, abs) in files {
        let meta =
            std::fs::metadata(&abs).map_err(|e| format!("Cannot read {}: {e}", abs.display()))?;
        total += meta.len();
        if total > MAX_UNZIPPED {
            return Err(format!(
                "Unzipped size must be smaller than {MAX_UNZIPPED} bytes: {path} holds more"
            ));
        }
        let bytes =
            std::fs::read(&abs).map_err(|e| format!("Cannot read {}: {e}", abs.display()))?;
        entries.push((rel, bytes, mode_of(&meta)));
    }
    Ok(Local::Files(entries))
}

/// The package of a local code location: a `.zip` (or `.jar`) file as it is, a folder's
/// files, or one file alone.
pub fn package(path: &str) -> Result<Vec<u8>, String> {
    match read_local(path)? {
        Local::Package(zip) => Ok(zip),
        Local::Files(entries) => zip_entries(entries),
    }
}

/// A content hash of a local code location (paths, modes and contents; no packing), for
/// telling changed code from unchanged.
pub fn fingerprint(path: &str) -> Result<String, String> {
    let mut h = Sha256::new();
    match read_local(path)? {
        Local::Package(zip) => h.update(&zip),
        Local::Files(entries) => {
            for (name, bytes, mode) in entries {
                h.update((name.len() as u64).to_be_bytes());
                h.update(name.as_bytes());
                h.update(mode.to_be_bytes());
                h.update((bytes.len() as u64).to_be_bytes());
                h.update(&bytes);
            }
        }
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Inline source (`Code.ZipFile`): packed as `index.<ext>` for the runtime, as
/// CloudFormation packs it.
pub fn inline(source: &str, runtime: &str) -> Result<Vec<u8>, String> {
    let name = if runtime.starts_with("python") {
        "index.py"
    } else if runtime.starts_with("nodejs") {
        "index.js"
    } else {
        return Err(format!(
            "ZipFile can only be used when Runtime is set to either of nodejs or python runtimes, not {runtime:?}"
        ));
    };
    // The response module CloudFormation offers inline code of custom resources.
    let helper = if runtime.starts_with("python") {
        ("cfnresponse.py", CFN_RESPONSE_PY)
    } else {
        ("node_modules/cfn-response/index.js", CFN_RESPONSE_JS)
    };
    zip_entries(vec![
        (name.to_owned(), source.as_bytes().to_vec(), 0o644),
        (helper.0.to_owned(), helper.1.as_bytes().to_vec(), 0o644),
    ])
}

const CFN_RESPONSE_PY: &str = include_str!("cfn_response/cfnresponse.py");
const CFN_RESPONSE_JS: &str = include_str!("cfn_response/cfn-response.js");

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn mode_of(_: &std::fs::Metadata) -> u32 {
    0o644
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("Cannot read the folder {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("Cannot read {}: {e}", dir.display()))?;
        let path = entry.path();
        let meta =
            std::fs::metadata(&path).map_err(|e| format!("Cannot read {}: {e}", path.display()))?;
        if meta.is_dir() {
            collect(root, &path, out)?;
        } else if meta.is_file() {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path));
        }
    }
    Ok(())
}

fn zip_entries(entries: Vec<(String, Vec<u8>, u32)>) -> Result<Vec<u8>, String> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes, mode) in entries {
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(mode | 0o444);
        w.start_file(name, options).map_err(|e| e.to_string())?;
        w.write_all(&bytes).map_err(|e| e.to_string())?;
    }
    w.finish()
        .map(|c| c.into_inner())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_package_deterministically() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("app.py"), "def handler(e, c): pass\n").unwrap();
        std::fs::write(dir.path().join("lib/util.py"), "X = 1\n").unwrap();
        let path = dir.path().to_str().unwrap();
        let a = fingerprint(path).unwrap();
        assert_eq!(a, fingerprint(path).unwrap());
        let zip = package(path).unwrap();
        let archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        let mut names: Vec<&str> = archive.file_names().collect();
        names.sort();
        assert_eq!(names, vec!["app.py", "lib/util.py"]);
        std::fs::write(dir.path().join("app.py"), "def handler(e, c): return 1\n").unwrap();
        assert_ne!(a, fingerprint(path).unwrap());
    }

    #[test]
    fn relative_paths_are_refused() {
        assert!(package("src/").unwrap_err().contains("not a valid S3 Uri"));
    }

    #[test]
    fn inline_code_is_index() {
        let zip = inline("def handler(e, c): pass", "python3.12").unwrap();
        let archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        let mut names: Vec<&str> = archive.file_names().collect();
        names.sort();
        assert_eq!(names, vec!["cfnresponse.py", "index.py"]);
        assert!(inline("x", "java21").is_err());
    }
}
