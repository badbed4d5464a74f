//! The models cap knows by name, where the set-up step puts them, and the check of a
//! model file (present, a GGUF, the pinned size and sha256, remembered next to it).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

use crate::LlmError;

/// A model cap knows by name: where the set-up step puts it and what it must hash to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownModel {
    /// Short name (`--llm-model qwen2.5-coder-0.5b`).
    pub name: &'static str,
    /// File name in the data directory's `llm/` folder.
    pub file: &'static str,
    /// Size in bytes.
    pub size: u64,
    /// sha256 of the file.
    pub sha256: &'static str,
    /// What it is, for messages.
    pub description: &'static str,
}

/// The smaller model: Qwen2.5-Coder-0.5B-Instruct (GGUF, from PyPI; models/README.md).
pub const QWEN_CODER_05B: KnownModel = KnownModel {
    name: "qwen2.5-coder-0.5b",
    file: "qwen2.5-coder-0.5b-instruct.gguf",
    size: 491_400_064,
    sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    description: "Qwen2.5-Coder-0.5B-Instruct",
};

/// The default model: Qwen2.5-Coder-1.5B-Instruct Q4_K_M (GGUF, from PyPI;
/// models/README.md), chosen over the 0.5B by measured success (bench/README.md).
pub const QWEN_CODER_15B: KnownModel = KnownModel {
    name: "qwen2.5-coder-1.5b",
    file: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size: 1_117_320_768,
    sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    description: "Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
};

/// The small test model: SmolLM2-135M-Instruct Q4_1 (too weak to write programs).
pub const SMOLLM2_135M: KnownModel = KnownModel {
    name: "smollm2-135m",
    file: "smollm2-135m-instruct-q4_1.gguf",
    size: 98_362_432,
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    description: "SmolLM2-135M-Instruct Q4_1",
};

/// Every model the set-up step can fetch.
pub const KNOWN_MODELS: [KnownModel; 3] = [QWEN_CODER_05B, QWEN_CODER_15B, SMOLLM2_135M];

/// Resolve `--llm-model`: a known name (or nothing, for the default) is looked up in
/// the data directory; anything else is a path to a GGUF file.
pub fn resolve_model(spec: Option<&str>) -> Result<(PathBuf, Option<KnownModel>), LlmError> {
    let spec = spec.unwrap_or(QWEN_CODER_15B.name);
    if let Some(known) = KNOWN_MODELS.iter().find(|m| m.name == spec) {
        let dir = cap_core::paths::data_dir();
        return Ok((dir.join("llm").join(known.file), Some(*known)));
    }
    // A path to one of the fetched files (same name) is checked against its pin; any
    // other GGUF is the user's own and only has to load.
    let path = PathBuf::from(spec);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let known = KNOWN_MODELS.iter().find(|k| k.file == name).copied();
    Ok((path, known))
}

pub(super) fn model_err(path: &Path, message: impl Into<String>) -> LlmError {
    LlmError::Model {
        path: path.display().to_string(),
        message: message.into(),
    }
}

pub(super) const FETCH_HINT: &str =
    "run `bash scripts/fetch-llm.sh` (setup.sh does) to download it from PyPI";

/// Check a model file: present, a GGUF, and (for a known model) the right size and
/// sha256. Returns the file's sha256.
pub fn verify_model(path: &Path, known: Option<KnownModel>) -> Result<String, LlmError> {
    let meta = fs::metadata(path).map_err(|e| {
        let hint = if known.is_some() {
            FETCH_HINT
        } else {
            "check --llm-model"
        };
        model_err(path, format!("cannot read the model file ({e}); {hint}"))
    })?;
    let mut magic = [0u8; 4];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map_err(|e| model_err(path, format!("cannot read the model file: {e}")))?;
    if &magic != b"GGUF" {
        return Err(model_err(
            path,
            "not a GGUF file (its first bytes are not \"GGUF\")",
        ));
    }
    if let Some(k) = known {
        if meta.len() != k.size {
            return Err(model_err(
                path,
                format!(
                    "{} should be {} bytes but is {} (an interrupted download?); delete it and {FETCH_HINT}",
                    k.description,
                    k.size,
                    meta.len()
                ),
            ));
        }
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let stamp_path = {
        let mut p = path.as_os_str().to_owned();
        p.push(".verified");
        PathBuf::from(p)
    };
    let stamp_key = format!("{} {}", meta.len(), mtime);
    let remembered = fs::read_to_string(&stamp_path).ok().and_then(|s| {
        let (key, sha) = s.trim().rsplit_once(' ')?;
        (key == stamp_key).then(|| sha.to_string())
    });
    let sha = match remembered {
        Some(sha) => sha,
        None => {
            let sha = sha256_file(path)?;
            // Remembering is an optimisation: a read-only directory only costs a rehash.
            let _ = fs::write(&stamp_path, format!("{stamp_key} {sha}\n"));
            sha
        }
    };
    if let Some(k) = known {
        if sha != k.sha256 {
            return Err(model_err(
                path,
                format!(
                    "{} has sha256 {sha}, expected {} (corrupt); delete it and {FETCH_HINT}",
                    k.description, k.sha256
                ),
            ));
        }
    }
    Ok(sha)
}

fn sha256_file(path: &Path) -> Result<String, LlmError> {
    let mut f = fs::File::open(path).map_err(|e| model_err(path, e.to_string()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| model_err(path, e.to_string()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:x}", h.finalize()))
}
