//! The `.rrd` file a recording is saved to: rerun's own encoder, run on the thread
//! that sends.
//!
//! rerun's `FileSink` writes the same format (LZ4-compressed chunks, then a footer
//! that indexes every chunk) but hands each message to a writer thread of its own and
//! only logs a failed write. [`RrdFile`] encodes on the thread that sends to it
//! (rerun's forwarding thread, already off the episode's thread), so closing the file
//! waits on one thread less, and it keeps the first error, so
//! [`crate::Recorder::finish`] can say that a recording is incomplete (disk full, file
//! removed) instead of a run passing with a broken file.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rerun::external::re_log_encoding::{CrateVersion, Encoder, EncodingOptions};
use rerun::log::LogMsg;
use rerun::sink::{LogSink, SinkFlushError};

/// The first thing that went wrong writing a file, if anything did.
pub(crate) type WriteError = Arc<Mutex<Option<String>>>;

/// An `.rrd` file being written (see the module docs).
pub(crate) struct RrdFile {
    path: PathBuf,
    /// `None` once the file is closed, or after a failed write (what follows would not
    /// make a readable file).
    encoder: Mutex<Option<Encoder<BufWriter<File>>>>,
    error: WriteError,
}

/// Bytes buffered before a write to the file.
const BUFFER: usize = 1 << 16;

/// Why a recording file could not be started.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CreateError {
    /// The file could not be created.
    #[error("{path}: {source}")]
    Create {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// rerun's encoder could not write the stream header.
    #[error("{path}: {message}")]
    Header {
        /// The file.
        path: String,
        /// rerun's words.
        message: String,
    },
}

impl RrdFile {
    /// Create (or truncate) `path` and write the stream header; the error names the
    /// file. The [`WriteError`] returned with it receives any later failure, also
    /// the one closing the file (when the sink is dropped).
    pub(crate) fn create(path: &Path) -> Result<(Self, WriteError), CreateError> {
        let file = File::create(path).map_err(|source| CreateError::Create {
            path: path.display().to_string(),
            source,
        })?;
        let encoder = Encoder::new_eager(
            CrateVersion::LOCAL,
            EncodingOptions::PROTOBUF_COMPRESSED,
            BufWriter::with_capacity(BUFFER, file),
        )
        .map_err(|e| CreateError::Header {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let error = WriteError::default();
        Ok((
            Self {
                path: path.to_path_buf(),
                encoder: Mutex::new(Some(encoder)),
                error: Arc::clone(&error),
            },
            error,
        ))
    }

    /// Keep the first error (with the file's name) and stop writing.
    fn fail(&self, encoder: &mut Option<Encoder<BufWriter<File>>>, e: &dyn std::fmt::Display) {
        *encoder = None;
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert_with(|| format!("{}: {e}", self.path.display()));
        }
    }

    /// Write the footer and the buffered bytes, and close the file.
    fn close(&self) {
        let Ok(mut guard) = self.encoder.lock() else {
            return;
        };
        let Some(mut encoder) = guard.take() else {
            return;
        };
        let closed = encoder
            .finish()
            .map_err(|e| e.to_string())
            .and_then(|()| encoder.into_inner().map_err(|e| e.to_string()))
            .and_then(|w| w.into_inner().map_err(|e| e.error().to_string()));
        if let Err(e) = closed {
            self.fail(&mut guard, &e);
        }
    }
}

impl LogSink for RrdFile {
    fn send(&self, msg: LogMsg) {
        let Ok(mut guard) = self.encoder.lock() else {
            return;
        };
        if let Some(encoder) = guard.as_mut() {
            if let Err(e) = encoder.append(&msg) {
                self.fail(&mut guard, &e);
            }
        }
    }

    fn flush_blocking(&self, _timeout: Duration) -> Result<(), SinkFlushError> {
        if let Ok(mut guard) = self.encoder.lock() {
            if let Some(encoder) = guard.as_mut() {
                if let Err(e) = encoder.flush_blocking() {
                    self.fail(&mut guard, &e);
                }
            }
        }
        match self.error.lock().ok().and_then(|e| e.clone()) {
            Some(e) => Err(SinkFlushError::failed(e)),
            None => Ok(()),
        }
    }
}

impl Drop for RrdFile {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_cannot_be_created_is_named() {
        let dir = std::env::temp_dir().join(format!("cap-viz-rrd-{}", std::process::id()));
        let path = dir.join("missing").join("run.rrd");
        let Err(e) = RrdFile::create(&path) else {
            panic!("created {}", path.display());
        };
        assert!(e.to_string().contains("missing/run.rrd"), "{e}");
    }

    #[test]
    fn a_failed_write_is_kept_and_stops_the_file() {
        // /dev/full accepts the open and fails every write ("No space left on device").
        let full = Path::new("/dev/full");
        if !full.exists() {
            return;
        }
        let (file, error) = RrdFile::create(full).unwrap();
        // The header fits in the buffer; flushing it is the first write.
        let e = file.flush_blocking(Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().contains("/dev/full"), "{e}");
        assert!(file.encoder.lock().unwrap().is_none());
        drop(file);
        let kept = error.lock().unwrap().clone().unwrap();
        assert!(kept.starts_with("/dev/full: "), "{kept}");
    }
}
