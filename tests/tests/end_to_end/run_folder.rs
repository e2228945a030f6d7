//! What a run writes stays in its run folder (docs/reliability.md, security): a run folder
//! that is itself a symbolic link is followed, since the user chose where it lives; a link
//! inside it that a run would append through is refused; a link where the checkpoint goes
//! is replaced, and what it pointed to is left alone.

use patchwork_core::checkpoint;

use super::common::{collect, fashion_subset, run, small_config};

fn listing(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = walk(dir).into_iter().map(|p| (p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap())).collect();
    files.sort();
    files
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir).unwrap().flat_map(|e| {
        let p = e.unwrap().path();
        if p.is_dir() { walk(&p) } else { vec![p] }
    }).collect()
}

#[test]
fn a_linked_run_folder_is_followed_and_links_inside_it_lead_nowhere_else() {
    let root = tempfile::tempdir().unwrap();
    // The run folder is a link to a folder on another disk: the run lives there, and
    // resumes through the link.
    let disk = root.path().join("big-disk/runs/a");
    std::fs::create_dir_all(&disk).unwrap();
    let link = root.path().join("run-a");
    std::os::unix::fs::symlink(&disk, &link).unwrap();
    collect(run(small_config(16, 2), fashion_subset(32), Some(link.clone()), None));
    assert_eq!(checkpoint::read_meta(&disk.join("checkpoint")).unwrap().state.step, 2);
    assert!(disk.join("metrics.jsonl").is_file());
    collect(run(small_config(16, 3), fashion_subset(32), Some(link.clone()), Some(link.join("checkpoint"))));
    assert_eq!(checkpoint::read_meta(&disk.join("checkpoint")).unwrap().state.step, 3);

    // Files of the user's that links in a (copied, say) run folder point at.
    let outside = root.path().join("outside");
    std::fs::create_dir_all(outside.join("folder")).unwrap();
    std::fs::write(outside.join("notes.txt"), "mine").unwrap();
    std::fs::write(outside.join("folder/keep"), "mine too").unwrap();
    let before = listing(&outside);

    // metrics.jsonl (or the snapshots folder) linked out: refused before anything is written.
    for (name, target) in [("metrics.jsonl", outside.join("notes.txt")), ("snapshots", outside.join("folder"))] {
        let dir = root.path().join(format!("linked-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(&target, dir.join(name)).unwrap();
        let handle = run(small_config(16, 2), fashion_subset(32), Some(dir.clone()), None);
        let events: Vec<_> = handle.events.iter().collect();
        let failed = events.iter().find_map(|e| match e {
            patchwork_core::train::TrainEvent::Failed { message } => Some(message.clone()),
            _ => None,
        });
        let message = failed.unwrap_or_else(|| panic!("{name}: a link out of the run folder was written through"));
        assert!(message.contains(name) && message.contains("symbolic link"), "{message}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "{name}: nothing written");
    }

    // The checkpoint's place linked out: the run's checkpoint replaces the link.
    let dir = root.path().join("linked-checkpoint");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(outside.join("folder"), dir.join("checkpoint")).unwrap();
    collect(run(small_config(16, 2), fashion_subset(32), Some(dir.clone()), None));
    assert!(!std::fs::symlink_metadata(dir.join("checkpoint")).unwrap().file_type().is_symlink());
    assert_eq!(checkpoint::read_meta(&dir.join("checkpoint")).unwrap().state.step, 2);
    assert_eq!(listing(&outside), before, "nothing outside the run folders changed");
}
