//! `--save`, `--spawn`, `--connect`: rerun recordings of exec, run and eval.

use std::path::PathBuf;
use std::sync::Arc;

use cap_viz::{Finishing, Recorder, Sink};

/// The viewer's default gRPC address (what `rerun` listens on when started plainly).
pub const DEFAULT_VIEWER: &str = "rerun+http://127.0.0.1:9876/proxy";

/// Where to send a rerun recording of the run (rerun's own flag names). Off unless given.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct RecordArgs {
    /// Record the run for the rerun viewer into FILE (view: `rerun FILE`).
    #[arg(long, value_name = "FILE.rrd")]
    pub save: Option<PathBuf>,
    /// Start a rerun viewer (0.36.3) listening on PORT [default: 9876] and stream the run to it.
    #[arg(long, value_name = "PORT", num_args = 0..=1, default_missing_value = "9876")]
    pub spawn: Option<u16>,
    /// Stream the run to a running rerun viewer [default address: rerun+http://127.0.0.1:9876/proxy].
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_VIEWER)]
    pub connect: Option<String>,
}

impl RecordArgs {
    /// The sinks asked for.
    pub fn sinks(&self) -> Vec<Sink> {
        let mut s = Vec::new();
        if let Some(p) = &self.save {
            s.push(Sink::Save(p.clone()));
        }
        if let Some(port) = self.spawn {
            s.push(Sink::Spawn { port });
        }
        if let Some(a) = &self.connect {
            s.push(Sink::Connect(a.clone()));
        }
        s
    }

    /// A recorder named `name`, if any sink was asked for.
    pub fn recorder(&self, name: &str) -> Result<Option<Arc<Recorder>>, cap_viz::VizError> {
        let sinks = self.sinks();
        if sinks.is_empty() {
            return Ok(None);
        }
        if let Some(p) = &self.save {
            if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = std::fs::create_dir_all(dir);
            }
        }
        Recorder::new(name, &sinks).map(Some)
    }

    /// Wait for a recording being closed (see [`finish_with_report`]) and say how it
    /// went: where the file is, or why it could not be written. False when it could
    /// not: the command then fails, after printing the run's own outcome.
    pub fn closed(&self, finishing: Option<Finishing<'_>>) -> bool {
        match finishing.map(Finishing::wait) {
            Some(Ok(())) => {
                if let Some(p) = &self.save {
                    println!("recording: {} (view: rerun {})", p.display(), p.display());
                }
                true
            }
            Some(Err(e)) => {
                eprintln!("cap: {e}");
                false
            }
            None => true,
        }
    }
}

/// Log the run's report (JSON) into `recorder`, if there is one, and start closing
/// it: rerun writes the file's footer while the caller writes its own outputs; then
/// [`RecordArgs::closed`].
pub fn finish_with_report<'a>(
    recorder: Option<&'a Arc<Recorder>>,
    report: &impl serde::Serialize,
) -> serde_json::Result<Option<Finishing<'a>>> {
    let Some(r) = recorder else {
        return Ok(None);
    };
    r.log_report(&serde_json::to_string_pretty(report)?);
    Ok(Some(r.finish_in_background()))
}
