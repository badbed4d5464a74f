//! Where cap keeps what the set-up step fetches (ONNX Runtime, language models, the
//! rerun viewer) and its caches.

use std::path::PathBuf;

/// cap's data directory: `$CAP_DATA_DIR`, else `$XDG_DATA_HOME/cap`, else
/// `~/.local/share/cap` (else `./.local/share/cap` without a home). The `scripts/fetch-*.sh`
/// set-up scripts install into the same place.
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CAP_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("cap");
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/share/cap")
}
