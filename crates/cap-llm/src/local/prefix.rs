//! The warm prompt state: llama.cpp's state after a prompt's shared prefix (the system
//! message: rules, API, scene), saved to a file keyed by the model's sha256 and the
//! prefix's tokens, so the next process that sends the same prefix reads only what
//! follows it. A file that does not load, or that holds other tokens, is deleted and
//! rebuilt; nothing depends on one being there.

use std::path::{Path, PathBuf};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::token::LlamaToken;
use sha2::{Digest, Sha256};

/// State files kept per directory (the oldest go first); each is 50-80 MB for the 0.5B model.
const KEEP_FILES: usize = 4;
/// Prefixes shorter than this are not worth a file.
pub(super) const MIN_PREFIX_TOKENS: usize = 64;

/// The file for `prefix` under `dir` for the model whose sha256 is `model_sha`.
pub(super) fn state_path(dir: &Path, model_sha: &str, prefix: &[LlamaToken]) -> PathBuf {
    let mut h = Sha256::new();
    for t in prefix {
        h.update(t.0.to_le_bytes());
    }
    let digest = h.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let model: String = model_sha.chars().take(16).collect();
    dir.join(format!("{model}-{hex}-{}.state", prefix.len()))
}

/// Load the state at `path` into `ctx` if it holds exactly `prefix`; on any mismatch
/// or error the file is removed and the context cleared. Returns whether it loaded.
pub(super) fn load(ctx: &mut LlamaContext<'_>, path: &Path, prefix: &[LlamaToken]) -> bool {
    if !path.exists() {
        return false;
    }
    match ctx.state_load_file(path, prefix.len()) {
        Ok(tokens) if tokens == prefix => true,
        _ => {
            ctx.clear_kv_cache();
            std::fs::remove_file(path).ok();
            false
        }
    }
}

/// Save `ctx`'s state (which holds exactly `prefix`) to `path`: written beside it, then
/// renamed, so a reader never sees half a file; older files beyond [`KEEP_FILES`] are
/// removed. Failures are returned for the caller to report, never fatal.
pub(super) fn save(
    ctx: &LlamaContext<'_>,
    path: &Path,
    prefix: &[LlamaToken],
) -> Result<(), String> {
    let dir = path.parent().ok_or("no directory")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    ctx.state_save_file(&tmp, prefix)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
    prune(dir);
    Ok(())
}

fn prune(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "state"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    files.sort();
    let excess = files.len().saturating_sub(KEEP_FILES);
    for (_, p) in files.into_iter().take(excess) {
        std::fs::remove_file(p).ok();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_key_names_the_model_the_tokens_and_their_count() {
        let dir = Path::new("/d");
        let a = [LlamaToken(1), LlamaToken(2), LlamaToken(3)];
        let b = [LlamaToken(1), LlamaToken(2), LlamaToken(4)];
        let pa = state_path(dir, "aaaaaaaaaaaaaaaaffff", &a);
        assert_eq!(pa, state_path(dir, "aaaaaaaaaaaaaaaaffff", &a));
        assert_ne!(pa, state_path(dir, "aaaaaaaaaaaaaaaaffff", &b));
        assert_ne!(pa, state_path(dir, "bbbbbbbbbbbbbbbbffff", &a));
        let name = pa.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("aaaaaaaaaaaaaaaa-") && name.ends_with("-3.state"),
            "{name}"
        );
    }

    #[test]
    fn prune_keeps_the_newest_files() {
        let dir = std::env::temp_dir().join(format!("cap-prefix-prune-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..(KEEP_FILES + 3) {
            std::fs::write(dir.join(format!("{i:02}.state")), b"x").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(15));
        }
        std::fs::write(dir.join("other.txt"), b"x").unwrap();
        prune(&dir);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left.len(), KEEP_FILES + 1);
        assert!(!left.contains(&"00.state".to_string()) && left.contains(&"other.txt".to_string()));
        std::fs::remove_dir_all(&dir).ok();
    }
}
