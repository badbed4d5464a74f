//! Finding ONNX Runtime and cap's data files without the user setting anything.
//!
//! `ort` is built with `load-dynamic`: nothing is downloaded at build time, and the
//! shared library `libonnxruntime.so.1.31.1` is loaded at run time. The project's
//! set-up step (`setup.sh`) takes it from the PyPI wheel `onnxruntime==1.31.1`
//! (`onnxruntime/capi/`), checks its sha256 and puts it in cap's data directory.
//! If no library is found ort would panic, so cap looks for the file first and gives
//! an error that says how to fix it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The ONNX Runtime version the `api-31` feature expects.
pub const ORT_VERSION: &str = "1.31.1";
/// The shared library's file name.
pub const ORT_LIB: &str = "libonnxruntime.so.1.31.1";

/// ONNX Runtime could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// No library file in any of the places cap looks.
    #[error("ONNX Runtime {ORT_VERSION} not found (looked in: {}); run `bash setup.sh` (it fetches the onnxruntime=={ORT_VERSION} wheel from PyPI), or set CAP_ORT_LIB to the path of {ORT_LIB}", looked.join(", "))]
    NotFound {
        /// Paths tried.
        looked: Vec<String>,
    },
    /// The file exists but ort refused it (wrong version, corrupt, wrong architecture).
    #[error("ONNX Runtime at {path} could not be loaded: {message}; re-run `bash setup.sh` or point CAP_ORT_LIB at {ORT_LIB} from onnxruntime=={ORT_VERSION}")]
    Load {
        /// The file.
        path: String,
        /// ort's message.
        message: String,
    },
}

/// cap's data directory: `$CAP_DATA_DIR`, else `$XDG_DATA_HOME/cap`, else
/// `~/.local/share/cap`.
pub fn data_dir() -> PathBuf {
    cap_core::paths::data_dir()
}

/// Where cap looks for the library, in order: `$CAP_ORT_LIB`, `$ORT_DYLIB_PATH`, the
/// data directory's `onnxruntime/`, and `onnxruntime/` next to the executable.
pub fn candidates() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for var in ["CAP_ORT_LIB", "ORT_DYLIB_PATH"] {
        if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
            v.push(PathBuf::from(p));
        }
    }
    v.push(data_dir().join("onnxruntime").join(ORT_LIB));
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            v.push(dir.join("onnxruntime").join(ORT_LIB));
        }
    }
    v
}

/// The first candidate that exists.
pub fn find_library() -> Result<PathBuf, RuntimeError> {
    let c = candidates();
    c.iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| RuntimeError::NotFound {
            looked: c.iter().map(|p| p.display().to_string()).collect(),
        })
}

/// The process-wide environment, kept alive for the sessions that use it.
static INIT: OnceLock<Result<(PathBuf, ort::environment::Environment), RuntimeError>> =
    OnceLock::new();

/// Load ONNX Runtime once per process (later calls return the first outcome): the
/// library's path and the environment sessions are built in.
pub fn init() -> Result<(&'static Path, &'static ort::environment::Environment), RuntimeError> {
    INIT.get_or_init(|| {
        let path = find_library()?;
        load(&path).map(|env| (path, env))
    })
    .as_ref()
    .map(|(p, e)| (p.as_path(), e))
    .map_err(Clone::clone)
}

fn load(path: &Path) -> Result<ort::environment::Environment, RuntimeError> {
    let err = |message: String| RuntimeError::Load {
        path: path.display().to_string(),
        message,
    };
    // ort panics on a library it cannot use; keep that from taking the process down.
    let attempt = std::panic::catch_unwind(|| {
        ort::init_from(path)
            .map_err(|e| e.to_string())?
            .with_name("cap")
            .with_telemetry(false)
            .build()
            .map_err(|e| e.to_string())
    });
    match attempt {
        Ok(Ok(env)) => Ok(env),
        Ok(Err(e)) => Err(err(e)),
        Err(p) => Err(err(p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "the library panicked while loading".into()))),
    }
}
