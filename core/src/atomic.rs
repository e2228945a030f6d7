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
    // Only a folder is replaced (a link is replaced as a link: what it points to is left
    // alone); a file of the user's at that path stays where it is.
    if std::fs::symlink_metadata(dest).is_ok_and(|m| !m.is_dir() && !m.file_type().is_symlink()) {
        anyhow::bail!("{} is a file, not a checkpoint folder: not replacing it", dest.display());
    }
    remove_stale_temporaries(parent, &name);
    let tmp = temporary_sibling(parent, &name);
    std::fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    if let Err(e) = fill(&tmp).and_then(|()| sync_dir_files(&tmp)) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let old = old_path(dest);
    if dest.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))?;
        }
        std::fs::rename(dest, &old).with_context(|| format!("cannot move {} aside", dest.display()))?;
    }
    if let Err(e) = std::fs::rename(&tmp, dest) {
        let _ = std::fs::remove_dir_all(&tmp);
        recover(dest);
        return Err(e).with_context(|| format!("cannot move the new checkpoint to {}", dest.display()));
    }
    sync_dir(parent)?;
    if old.exists() {
        std::fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))?;
    }
    Ok(())
}

/// Writes a file through a temporary sibling and a rename, so readers never see a
/// half-written file.
pub fn write_file_atomically(dest: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let name = dest.file_name().context("path has no file name")?.to_string_lossy().to_string();
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = temporary_sibling(parent, &name);
    // create_new: never another writer's file; the user's umask applies, as to any file.
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))
        .and_then(|()| std::fs::rename(&tmp, dest).with_context(|| format!("cannot move {} into place", dest.display())));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    // The rename itself is durable only once the folder holding it is synced.
    sync_dir(parent)
}

/// A name beside `name` in `parent` that no other writer uses: this process's id and a
/// number of its own (two writers in one process, or one after a crash, never share one).
fn temporary_sibling(parent: &Path, name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    parent.join(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Removes the temporary siblings of `name` (see [`temporary_sibling`]) that a process killed
/// while writing left behind: those of a process id that no longer runs. A checkpoint
/// folder's are a model's and an optimizer's size; every kill during a save would leave one
/// more. Only where running processes can be told (Linux's `/proc`); elsewhere none.
fn remove_stale_temporaries(parent: &Path, name: &str) {
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = file_name.strip_prefix(&prefix).and_then(|rest| rest.split('-').next()).and_then(|pid| pid.parse::<u32>().ok()) else { continue };
        let gone = cfg!(target_os = "linux") && pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists();
        if gone {
            let path = entry.path();
            let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        }
    }
}

/// Syncs a folder, so that renames into it survive a power cut.
fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir).and_then(|f| f.sync_all()).with_context(|| format!("cannot sync folder {}", dir.display()))
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
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_writers_temporary_folder_is_removed_by_the_next_write() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("ckpt");
        // A process id no Linux system hands out (pid_max is at most 2^22).
        let stale = root.path().join(".ckpt.tmp-4194305-0");
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join("model.bpk"), "half").unwrap();
        let ours = temporary_sibling(root.path(), "ckpt");
        std::fs::create_dir(&ours).unwrap();
        let other = root.path().join(".other.tmp-4194305-0");
        std::fs::create_dir(&other).unwrap();
        write_dir_atomically(&dest, |d| Ok(std::fs::write(d.join("a"), "1")?)).unwrap();
        assert_eq!(!stale.exists(), cfg!(target_os = "linux"), "a dead process's temporary folder");
        assert!(ours.exists(), "this process's own temporary folder is another writer's, in use");
        assert!(other.exists(), "another folder's temporaries are not this write's");
    }

    #[test]
    fn a_file_in_the_way_is_refused_and_a_link_is_replaced_without_touching_its_target() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("ckpt");
        std::fs::write(&dest, "the user's").unwrap();
        let err = write_dir_atomically(&dest, |d| Ok(std::fs::write(d.join("a"), "1")?)).unwrap_err().to_string();
        assert!(err.contains("is a file, not a checkpoint folder"), "{err}");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "the user's");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1, "nothing else written");
        // A link to a folder outside: the link gives way to the new folder; the folder it
        // pointed to keeps what it had.
        std::fs::remove_file(&dest).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), "k").unwrap();
        std::os::unix::fs::symlink(outside.path(), &dest).unwrap();
        write_dir_atomically(&dest, |d| Ok(std::fs::write(d.join("a"), "1")?)).unwrap();
        assert!(!std::fs::symlink_metadata(&dest).unwrap().file_type().is_symlink() && dest.join("a").is_file());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
        assert!(outside.path().join("keep").is_file());
    }

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

    #[test]
    fn writers_in_one_process_never_share_a_temporary_file_and_a_failed_write_leaves_none() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("state.json");
        // Eight threads writing the same file at once: each write whole, the last one wins.
        // (With the temporary named by process id alone they wrote into one another's file
        // and their renames failed.)
        std::thread::scope(|scope| {
            for t in 0..8u8 {
                let dest = &dest;
                scope.spawn(move || {
                    for _ in 0..40 {
                        write_file_atomically(dest, &[t; 4096]).unwrap();
                    }
                });
            }
        });
        let bytes = std::fs::read(&dest).unwrap();
        assert!(bytes.len() == 4096 && bytes.iter().all(|&b| b == bytes[0]), "a torn write");
        // A rename that fails (a folder holds the name) leaves no temporary file behind.
        let taken = root.path().join("taken");
        std::fs::create_dir(&taken).unwrap();
        std::fs::write(taken.join("x"), "in the way").unwrap();
        assert!(write_file_atomically(&taken, b"new").is_err());
        let names: Vec<String> = std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        // What it writes gets the user's default permissions (umask), not a private 0600.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let plain = root.path().join("plain");
            std::fs::write(&plain, "x").unwrap();
            assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode(), std::fs::metadata(&plain).unwrap().permissions().mode());
        }
    }
}
