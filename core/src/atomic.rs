//! Writing a folder so that readers see either the old one or the complete new one.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Writes `dest` by filling a temporary sibling folder with `fill`, syncing it, and
/// renaming it into place. An existing `dest` is moved aside first and removed only
/// once the new folder is in place, so a crash at any point leaves a complete
/// checkpoint (the old or the new one; `dest.old` is picked up by [`recover`]).
pub fn write_dir_atomically(dest: &Path, fill: impl FnOnce(&Path) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let name = dest.file_name().context("checkpoint path has no folder name")?.to_string_lossy().to_string();
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("cannot clear {}", tmp.display()))?;
    }
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    if let Err(e) = fill(&tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    sync_dir_files(&tmp)?;
    let old = old_path(dest);
    if dest.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))?;
        }
        std::fs::rename(dest, &old).with_context(|| format!("cannot move {} aside", dest.display()))?;
    }
    std::fs::rename(&tmp, dest).with_context(|| format!("cannot move the new checkpoint to {}", dest.display()))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))?;
    }
    if let Ok(f) = std::fs::File::open(parent) {
        let _ = f.sync_all();
    }
    Ok(())
}

/// Writes a file through a temporary sibling and a rename, so readers never see a
/// half-written file.
pub fn write_file_atomically(dest: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let name = dest.file_name().context("path has no file name")?.to_string_lossy().to_string();
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut file = std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(bytes).and_then(|_| file.sync_all()).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, dest).with_context(|| format!("cannot move {} into place", dest.display()))
}

fn old_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".old");
    PathBuf::from(s)
}

/// If a crash happened between moving the old folder aside and renaming the new one
/// in, puts the old one back.
pub fn recover(dest: &Path) {
    let old = old_path(dest);
    if !dest.exists() && old.exists() {
        let _ = std::fs::rename(&old, dest);
    }
}

fn sync_dir_files(dir: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() {
            std::fs::File::open(&path)?.sync_all().with_context(|| format!("cannot sync {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_folder_and_keeps_old_one_on_failure() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("ckpt");
        write_dir_atomically(&dest, |d| Ok(std::fs::write(d.join("a"), "1")?)).unwrap();
        write_dir_atomically(&dest, |d| Ok(std::fs::write(d.join("b"), "2")?)).unwrap();
        assert!(!dest.join("a").exists() && dest.join("b").exists());
        let err = write_dir_atomically(&dest, |d| {
            std::fs::write(d.join("c"), "half")?;
            anyhow::bail!("disk full")
        });
        assert!(err.is_err());
        assert!(dest.join("b").exists() && !dest.join("c").exists());
        let leftovers: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary folder left behind");
        // A crash after the old folder was moved aside is recovered.
        std::fs::rename(&dest, old_path(&dest)).unwrap();
        recover(&dest);
        assert!(dest.join("b").exists());
    }
}
