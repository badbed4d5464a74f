//! Where a recording goes: a file, a viewer cap starts, or a running viewer.

use super::*;

/// Where a recording goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// Write an `.rrd` file.
    Save(PathBuf),
    /// Start a viewer (the `rerun` on PATH, else the one `scripts/fetch-rerun.sh`
    /// installed) listening on `port` (rerun's default: [`DEFAULT_VIEWER_PORT`]) and
    /// stream to it.
    Spawn {
        /// The port the spawned viewer listens on.
        port: u16,
    },
    /// Stream to a running viewer, e.g. `rerun+http://127.0.0.1:9876/proxy`.
    Connect(String),
}

/// The viewer `--spawn` starts: `None` for the `rerun` on PATH, else the one
/// `scripts/fetch-rerun.sh` installed; an error when there is neither.
pub(crate) fn spawn_executable() -> Result<Option<PathBuf>, String> {
    if on_path("rerun") {
        return Ok(None);
    }
    fetched_viewer().map(Some).ok_or_else(|| {
        "no `rerun` viewer on PATH or in cap's data directory: run `bash scripts/fetch-rerun.sh` or `pip install rerun-sdk==0.36.3`".into()
    })
}

/// The viewer binary `scripts/fetch-rerun.sh` installs (`$DATA/rerun/rerun`).
pub fn fetched_viewer() -> Option<PathBuf> {
    let bin = cap_core::paths::data_dir().join("rerun").join("rerun");
    bin.is_file().then_some(bin)
}

pub(crate) fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}
