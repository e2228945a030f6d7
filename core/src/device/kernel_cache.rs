//! cubecl's on-disk caches — autotune results, and in a `spirv` build compiled SPIR-V
//! kernels — in one per-user folder.
//!
//! Left alone, cubecl keeps its database in the `target/environment` of the outermost Cargo
//! workspace above the working directory, or else in `~/.cache/cubecl`: the same binary
//! started from two folders tuned everything twice, and no compiled kernel was kept at all
//! (cubecl persists them only when asked to). Here the location is one folder a user can
//! find (`patchwork devices` names it) and delete, and compiled SPIR-V kernels are kept in
//! it too, so a second start on the same GPU skips tuning (and compiling, with SPIR-V).
//! WGSL kernels are compiled by the driver on every start; cubecl cannot keep them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::cubecl::config::cache::CacheConfig;
use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};

/// What the cache keeps in this build.
const KEPT: &str = if cfg!(feature = "spirv") { "SPIR-V kernels and autotune results" } else { "autotune results; WGSL kernels are compiled anew by each start" };

/// Overrides the folder (for a throwaway cache: `bench --cold-cache`, tests).
pub const FOLDER_VARIABLE: &str = "PATCHWORK_KERNEL_CACHE";

/// Where the caches are kept, and whether cubecl was configured to use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelCache {
    pub folder: PathBuf,
    pub state: CacheState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheState {
    /// Compiled kernels and autotune results are read from and written to `folder`.
    InUse,
    /// The folder could not be made: cubecl keeps its caches in memory for this process.
    Unwritable(String),
    /// Something read cubecl's configuration before Patchwork could set it (a library user
    /// that opened a GPU device first): cubecl's own choice of location applies.
    SetElsewhere,
}

impl KernelCache {
    /// One line for `patchwork devices` and the README's wording.
    pub fn describe(&self) -> String {
        let size = match folder_size(&self.folder) {
            0 => "empty".to_string(),
            bytes => format!("{:.1} MB", bytes as f64 / 1e6),
        };
        match &self.state {
            CacheState::InUse => format!("{} ({size}; {KEPT})", self.folder.display()),
            CacheState::Unwritable(why) => format!("none: {} cannot be used ({why}); kernels are compiled anew by each process", self.folder.display()),
            CacheState::SetElsewhere => "cubecl's own location (its configuration was read before Patchwork could set it)".to_string(),
        }
    }
}

/// The cache folder: `$PATCHWORK_KERNEL_CACHE` if set, else `patchwork/kernels` in the
/// user's cache directory (`$XDG_CACHE_HOME`, `~/.cache`), never relative to the working
/// directory.
pub fn folder() -> PathBuf {
    folder_from(std::env::var_os(FOLDER_VARIABLE).map(PathBuf::from), user_cache_dir())
}

fn folder_from(overridden: Option<PathBuf>, user_cache: Option<PathBuf>) -> PathBuf {
    match overridden.filter(|p| !p.as_os_str().is_empty()) {
        // Relative paths are made absolute once, here: cubecl must not resolve them later
        // against whatever the working directory is then.
        Some(path) => std::path::absolute(&path).unwrap_or(path),
        None => user_cache.unwrap_or_else(std::env::temp_dir).join("patchwork").join("kernels"),
    }
}

fn user_cache_dir() -> Option<PathBuf> {
    use etcetera::BaseStrategy;
    etcetera::choose_base_strategy().ok().map(|s| s.cache_dir())
}

/// Points cubecl at [`folder`] and turns its compiled-kernel cache on; the first call does
/// it, later ones return what it did. Called before any GPU device is opened (device
/// resolution calls it), since cubecl reads its configuration once.
pub fn configure() -> &'static KernelCache {
    CONFIGURED.get_or_init(|| configure_at(folder()))
}

/// [`configure`] with `folder` in place of the user's (a throwaway one, for a cold start:
/// `bench --cold-cache`). Where the cache was configured already, that stays.
pub fn configure_in(folder: PathBuf) -> &'static KernelCache {
    CONFIGURED.get_or_init(|| configure_at(folder))
}

static CONFIGURED: OnceLock<KernelCache> = OnceLock::new();

fn configure_at(folder: PathBuf) -> KernelCache {
    if let Err(e) = std::fs::create_dir_all(&folder) {
        return KernelCache { folder, state: CacheState::Unwritable(e.to_string()) };
    }
    // cubecl's own configuration (a `cubecl.toml`, `CUBECL_*` variables) still applies to
    // everything but where its caches live and whether compiled kernels are kept.
    let mut config = CubeClRuntimeConfig::from_current_dir().override_from_env();
    config.compilation.cache = true;
    config.environment.path = CacheConfig::Directory(folder.clone());
    let state = if CubeClRuntimeConfig::try_set(config) { CacheState::InUse } else { CacheState::SetElsewhere };
    KernelCache { folder, state }
}

/// Bytes in the files directly inside `folder` (cubecl keeps one database there).
pub fn folder_size(folder: &Path) -> u64 {
    std::fs::read_dir(folder)
        .map(|entries| entries.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_is_the_users_cache_unless_overridden_and_never_relative() {
        let home_cache = PathBuf::from("/home/someone/.cache");
        assert_eq!(folder_from(None, Some(home_cache.clone())), home_cache.join("patchwork/kernels"));
        assert_eq!(folder_from(Some(PathBuf::new()), Some(home_cache.clone())), home_cache.join("patchwork/kernels"));
        assert_eq!(folder_from(Some(PathBuf::from("/tmp/k")), Some(home_cache)), PathBuf::from("/tmp/k"));
        let relative = folder_from(Some(PathBuf::from("k")), None);
        assert!(relative.is_absolute() && relative.ends_with("k"), "{}", relative.display());
        assert!(folder_from(None, None).is_absolute());
    }

    #[test]
    fn an_unmakeable_folder_is_reported_not_fatal() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let cache = configure_at(file.path().join("kernels"));
        assert!(matches!(cache.state, CacheState::Unwritable(_)), "{cache:?}");
        assert!(cache.describe().contains("cannot be used"), "{}", cache.describe());
    }
}
