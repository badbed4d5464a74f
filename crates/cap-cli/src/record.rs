//! `--save`, `--spawn`, `--connect`: rerun recordings of exec, run and eval.

use std::path::PathBuf;
use std::sync::Arc;

use cap_viz::{Recorder, Sink};

/// The viewer's default gRPC address (what `rerun` listens on when started plainly).
pub const DEFAULT_VIEWER: &str = "rerun+http://127.0.0.1:9876/proxy";

/// Where to send a rerun recording of the run (rerun's own flag names). Off unless given.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct RecordArgs {
    /// Record the run for the rerun viewer into FILE (view: `rerun FILE`).
    #[arg(long, value_name = "FILE.rrd")]
    pub save: Option<PathBuf>,
    /// Start a rerun viewer (0.36.3) and stream the run to it.
    #[arg(long)]
    pub spawn: bool,
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
        if self.spawn {
            s.push(Sink::Spawn);
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
}
