//! `cap-viz`: rerun recordings of cap runs, to watch live or replay.
//!
//! One recording per run (`cap exec`, `cap run`, a `cap eval` task with the episodes
//! recorded of it). What it holds:
//!
//! | entity | what | when |
//! |---|---|---|
//! | `world/table`, `world/objects/NAME`, `world/robot/PART` | coloured meshes (static); a moving body's mesh is in a frame of its own, named by its entity path (`CoordinateFrame`) | at the start |
//! | `world/robot/tcp` | the tool-centre point, a marker in its own frame | at the start |
//! | `world/poses` | the poses of the moving bodies and the TCP: `Transform3D` rows, each naming its frame (`child_frame`, e.g. `world/robot/link3`), as ROS logs `/tf` | sampled every [`Recorder::sample_every`] physics steps, logged when they changed (all at the recording's first sample), sent as columns in batches |
//! | `world/robot/gripper_opening` | gripper opening, m (`Scalars`) | sampled likewise |
//! | `robot/joints/jN/commanded`, `robot/joints/jN/measured` | on a real arm behind the bridge: each joint's commanded position and the one the arm measured (`Scalars`), side by side | after each motion the arm followed |
//! | `world/robot/planned_path` | the TCP along each planned motion (`LineStrips3D`) | when a motion starts |
//! | `world/robot/tcp_path` | the TCP path of the whole episode (`LineStrips3D`) | at the end |
//! | `camera/CAM/rgb`, `…/depth`, `…/segmentation` | checkpoint frames (PNG, as the inspector saw them) | at each checkpoint |
//! | `camera/CAM/verdicts` | the statement and every inspector's answer and confidence (`TextLog`) | at each checkpoint |
//! | `trace` | every trace event, with a level (`TextLog`) | at its sim time |
//! | `program` | the program source of the episode (`TextDocument`, markdown) | at its start |
//! | `report` | the run's report (`TextDocument`) | at the end |
//!
//! Timelines: `sim_time` (seconds), `step` (physics steps) and `attempt` (the repair
//! loop's attempt, so attempts can be compared in one recording). All episodes of a
//! run share the entities; on `step` and `sim_time` each episode starts one second
//! after the previous one ended, in the order they began, so scrubbing plays them in
//! turn (the first starts at 0, so a single episode's times are its own). Episodes
//! may run at the same time (the seeds of an eval task on several workers): each has
//! its own handle ([`RecordedEpisode`]), and the rows of one whose start is not known
//! yet wait on the writer thread until the episode before it ends.
//! The `program` entry of each names its episode (attempt, sample, seed).
//!
//! The episode thread only copies poses into buffers; a writer thread of the
//! recorder's own opens the stream, builds the columns and logs them, and rerun's
//! threads batch and encode, so on a machine with a spare core the simulation barely
//! slows down. Each chunk carries its schema, so all poses of a batch go in one chunk
//! and what never changes (colours, the program's media type) is static. What a short
//! command waits for is closing the file: the last chunks, then rerun's footer, which
//! indexes every chunk by timeline and component (about 2 ms, whatever the run's
//! length). Poses are therefore sent in short batches while the episode runs (or, when
//! every core runs episodes, once per episode: [`Recorder::set_sample_batch`]), there
//! are no timelines beyond the three above (rerun's wall-clock `log_time` is off), and
//! [`Recorder::finish_in_background`] lets a command write its own outputs meanwhile.
//! Files are written by rerun's encoder on rerun's forwarding thread (see
//! `rrd_file`), which also keeps write errors for [`Recorder::finish`].

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use cap_core::kinematics::Joints;
use cap_core::trace::{Answer, EventKind, TraceEvent};
use cap_script::run::{EpisodeRecorder, RecordedEpisode};
use cap_sim::observer::{SharedObserver, StepObserver, StepView};
use cap_sim::visual::VisualBody;
use cap_sim::world::World;
use rerun::external::arrow::array::StringArray;
use rerun::log::TimeColumn;
use rerun::{RecordingStream, RecordingStreamBuilder};

mod episode;
mod rrd_file;
mod samples;
mod sink;
#[cfg(test)]
mod tests;
mod trace_fmt;
mod writer;

pub use episode::EpisodeLog;
use episode::*;
use rrd_file::RrdFile;
use samples::*;
use sink::*;
pub use sink::{fetched_viewer, Sink};
use trace_fmt::*;
pub use writer::Finishing;
use writer::*;

/// The rerun version recordings are written with; view them with the same viewer
/// (`pip install rerun-sdk==0.36.3`, or `scripts/fetch-rerun.sh`).
pub const RERUN_VERSION: &str = "0.36.3";

/// The port a viewer listens on unless told otherwise (rerun's default).
pub const DEFAULT_VIEWER_PORT: u16 = 9876;

/// Why a recording could not be started or finished.
#[derive(Debug, thiserror::Error)]
pub enum VizError {
    /// No sink was given.
    #[error("no recording sink: give --save FILE, --spawn or --connect ADDR")]
    NoSink,
    /// rerun refused to start the stream.
    #[error("rerun ({sink}): {message}")]
    Start {
        /// Which sink.
        sink: String,
        /// Why.
        message: String,
    },
    /// Flushing the recording failed (disk full, viewer gone).
    #[error("rerun: writing the recording failed: {0}")]
    Flush(String),
}

/// Physics steps between pose samples at the default detail level (20 Hz of sim time).
pub const DEFAULT_SAMPLE_EVERY: u64 = 12;

/// Samples per batch handed to the writer thread by default (1.2 s of sim time at the default
/// rate): the poses reach the file while the episode runs, on the spare core, and what
/// is left to encode when it ends is one batch (at most), not the whole episode. Closing
/// a recording is what a short command waits for; fewer, larger chunks would save
/// little (measured: 240 samples per batch, i.e. one chunk for most episodes, made a
/// recorded `cap exec` about 1.5 ms slower).
pub const SAMPLE_BATCH: usize = 24;

/// At most this many points of a planned path are drawn (the paths are smooth; the
/// planner's waypoints are far denser than a line needs).
const PLAN_POINTS: usize = 48;

/// Where the poses of all moving bodies and of the TCP are logged, one `Transform3D`
/// row per body and sample whose `child_frame` is the body's entity path (each body's
/// mesh is static in that frame): one chunk per batch instead of one per body, as ROS
/// logs `/tf`.
pub const POSES: &str = "world/poses";
/// The tool-centre point: a marker whose frame's poses are in [`POSES`].
const TCP: &str = "world/robot/tcp";
/// The TCP along each planned motion.
const PLANNED_PATH: &str = "world/robot/planned_path";
/// The TCP path of the whole episode.
const TCP_PATH: &str = "world/robot/tcp_path";
/// Colours (sRGB) of the planned paths, and of the TCP marker and its path.
const PLANNED_RGB: [u8; 3] = [80, 160, 255];
const TCP_RGB: [u8; 3] = [255, 200, 0];

fn color([r, g, b]: [u8; 3]) -> rerun::Color {
    rerun::Color::from_rgb(r, g, b)
}

/// A rerun recording of a run.
///
/// The episode thread only copies poses into buffers; building rerun's columns and
/// logging them happens on a writer thread of the recorder's own (and rerun's batcher
/// and forwarding threads encode and write), so recording costs the simulation little
/// on a machine with a spare core. [`Self::finish`] closes the recording and waits for
/// all of it.
pub struct Recorder {
    sample_every: u64,
    /// Samples per batch ([`Self::set_sample_batch`]).
    batch: std::sync::atomic::AtomicUsize,
    shared: Mutex<Shared>,
    jobs: Option<mpsc::Sender<Msg>>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// Why the writer thread could not open the stream (reported by [`Self::finish`]).
    failed: Arc<Mutex<Option<VizError>>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("sample_every", &self.sample_every)
            .finish_non_exhaustive()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // Closing the queue ends the writer after the jobs already queued; the stream is
        // then closed as by [`Self::finish`], its errors unreported.
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take() {
            if writer.join().is_err() {
                eprintln!("cap: rerun: the recording's writer thread panicked; the recording may be incomplete");
            }
        }
    }
}

impl Recorder {
    /// Start a recording named `name` (the application id is `cap`) into `sinks`, at
    /// the default detail level (poses every [`DEFAULT_SAMPLE_EVERY`] physics steps).
    pub fn new(name: &str, sinks: &[Sink]) -> Result<Arc<Self>, VizError> {
        Self::with_detail(name, sinks, DEFAULT_SAMPLE_EVERY)
    }

    /// Like [`Self::new`], logging poses every `sample_every` physics steps (1: every
    /// step, 240 Hz of sim time).
    pub fn with_detail(
        name: &str,
        sinks: &[Sink],
        sample_every: u64,
    ) -> Result<Arc<Self>, VizError> {
        let start_err = |sink: &Sink, e: &dyn std::fmt::Display| VizError::Start {
            sink: format!("{sink:?}"),
            message: e.to_string(),
        };
        let name = name.to_string();
        let builder = move || {
            RecordingStreamBuilder::new("cap")
                .recording_name(name)
                .send_properties(true)
        };
        if sinks.is_empty() {
            return Err(VizError::NoSink);
        }
        if sinks.len() > 1 {
            if let Some(s) = sinks.iter().find(|s| matches!(s, Sink::Spawn { .. })) {
                return Err(start_err(
                    s,
                    &"--spawn cannot be combined with another sink; use --connect to a viewer you started",
                ));
            }
        }
        // What can fail at once (a file that cannot be created, a bad address, no
        // viewer to spawn) fails here: files are created and addresses parsed now; the
        // stream itself is opened on the writer thread, while the episode starts
        // (rerun's start costs about a millisecond). Files are written by [`RrdFile`],
        // a viewer gets rerun's own gRPC sink.
        let mut files = Vec::new();
        let mut boxed: Vec<Box<dyn rerun::sink::LogSink>> = Vec::new();
        let mut spawn = None;
        for s in sinks {
            match s {
                Sink::Save(path) => {
                    let (file, error) = RrdFile::create(path).map_err(|e| start_err(s, &e))?;
                    files.push(error);
                    boxed.push(Box::new(file));
                }
                Sink::Connect(url) => boxed.push(Box::new(rerun::sink::GrpcSink::new(
                    url.parse::<rerun::external::re_uri::ProxyUri>()
                        .map_err(|e| start_err(s, &e))?,
                ))),
                Sink::Spawn { port } => {
                    spawn_executable().map_err(|e| start_err(s, &e))?;
                    spawn = Some(*port);
                }
            }
        }
        let network = sinks.iter().any(|s| !matches!(s, Sink::Save(_)));
        let first = sinks[0].clone();
        let open: Open = Box::new(move || {
            if let Some(port) = spawn {
                let opts = rerun::SpawnOptions {
                    port,
                    executable_path: spawn_executable()
                        .ok()
                        .flatten()
                        .map(|bin| bin.display().to_string()),
                    ..Default::default()
                };
                let rec = builder()
                    .spawn_opts(&opts)
                    .map_err(|e| start_err(&first, &e))?;
                return Ok(Opened::new(rec, files, network));
            }
            let sink: Box<dyn rerun::sink::LogSink> = if boxed.len() == 1 {
                boxed.remove(0)
            } else {
                Box::new(rerun::sink::MultiSink::new(boxed))
            };
            let (enabled, info, properties, batching, hooks, _blueprint) = builder().into_args();
            let rec = if enabled {
                RecordingStream::new(info, properties, batching, hooks, sink)
                    .map_err(|e| start_err(&first, &e))?
            } else {
                // `RERUN=off` turns recordings off, as in every rerun SDK.
                RecordingStream::disabled()
            };
            Ok(Opened::new(rec, files, network))
        });
        Self::spawn(open, sample_every)
    }

    /// A recorder writing into an open stream, with its writer thread.
    #[cfg(test)]
    fn from_stream(rec: RecordingStream, sample_every: u64) -> Result<Arc<Self>, VizError> {
        Self::spawn(
            Box::new(move || Ok(Opened::new(rec, Vec::new(), false))),
            sample_every,
        )
    }

    /// Start the writer thread: it opens the stream, then runs the jobs queued until
    /// asked to finish (or the queue closes).
    fn spawn(open: Open, sample_every: u64) -> Result<Arc<Self>, VizError> {
        let (jobs, queue) = mpsc::channel::<Msg>();
        let failed = Arc::new(Mutex::new(None));
        let failure = Arc::clone(&failed);
        let writer = std::thread::Builder::new()
            .name("cap-viz-writer".into())
            .spawn(move || match open() {
                Ok(opened) => {
                    let rec = &opened.rec;
                    let mut placement = Placement::default();
                    for msg in &queue {
                        match msg {
                            Msg::Job(job) => job(rec),
                            Msg::Begin(id) => placement.begin(rec, id),
                            Msg::Episode(id, job) => placement.job(rec, id, job),
                            Msg::End { id, steps } => placement.end(rec, id, steps),
                            Msg::Finish(done) => {
                                placement.close(rec);
                                // Nobody waiting (the caller gave up) leaves nobody to tell.
                                done.send(opened.close()).ok();
                                return;
                            }
                        }
                    }
                    placement.close(rec);
                    // The recorder was dropped without `finish`: nobody asks how it
                    // went, so say it here.
                    if let Err(e) = opened.close() {
                        eprintln!("cap: rerun: {e}");
                    }
                }
                Err(e) => {
                    if let Ok(mut f) = failure.lock() {
                        *f = Some(e);
                    }
                }
            })
            .map_err(|e| VizError::Start {
                sink: "writer thread".into(),
                message: e.to_string(),
            })?;
        Ok(Arc::new(Self {
            sample_every: sample_every.max(1),
            batch: std::sync::atomic::AtomicUsize::new(SAMPLE_BATCH),
            shared: Mutex::new(Shared::default()),
            jobs: Some(jobs),
            writer: Some(writer),
            failed,
        }))
    }

    /// Physics steps between logged poses.
    pub fn sample_every(&self) -> u64 {
        self.sample_every
    }

    /// Send an episode's samples every `samples` samples (default [`SAMPLE_BATCH`];
    /// at least 1; `usize::MAX`: once, when the episode ends). Short batches let rerun
    /// encode on a spare core while the episode runs, so a single command barely
    /// waits; when every core runs episodes (`cap eval`), encoding competes with them,
    /// and one chunk per episode instead of several costs less CPU.
    pub fn set_sample_batch(&self, samples: usize) {
        self.batch
            .store(samples.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Queue `job` for the writer thread. If that thread is gone (the stream could not
    /// be opened), the job is dropped and [`Self::finish`] says why.
    fn submit(&self, job: impl FnOnce(&RecordingStream) + Send + 'static) {
        self.send(Msg::Job(Box::new(job)));
    }

    /// Queue rows of episode `id` (see [`Placement`]).
    fn submit_episode(&self, id: u64, job: impl FnOnce(&RecordingStream, u64) + Send + 'static) {
        self.send(Msg::Episode(id, Box::new(job)));
    }

    fn send(&self, msg: Msg) {
        // A closed queue means the writer ended: the stream never opened (that error
        // is kept for `finish`) or the recording was finished, after which what is
        // logged is dropped, as documented.
        if let Some(tx) = &self.jobs {
            tx.send(msg).ok();
        }
    }

    /// Log a text document (a report, a prompt) at `path`, timeless.
    pub fn log_document(&self, path: &str, markdown: &str) {
        let (path, markdown) = (path.to_string(), markdown.to_string());
        self.submit(move |rec| {
            logged(
                "a document",
                rec.log_static(
                    path,
                    &rerun::TextDocument::new(markdown)
                        .with_media_type(rerun::MediaType::markdown()),
                ),
            );
        });
    }

    /// Log the run's report (JSON) at `report`.
    pub fn log_report(&self, json: &str) {
        self.log_document("report", &format!("```json\n{json}\n```\n"));
    }

    /// Close the recording: everything logged so far reaches the sinks, a file gets its
    /// footer and is complete when this returns. The first error of any sink (a file
    /// that could not be written, a viewer that went away). Anything logged later is
    /// dropped.
    pub fn finish(&self) -> Result<(), VizError> {
        self.finish_in_background().wait()
    }

    /// [`Self::finish`] on the writer thread, returning at once: the caller can write
    /// its own outputs while rerun writes the file's footer, then
    /// [`Finishing::wait`].
    pub fn finish_in_background(&self) -> Finishing<'_> {
        let (done, wait) = mpsc::channel();
        // If the writer ended already, `wait` finds the reason in `failed`.
        if let Some(tx) = &self.jobs {
            tx.send(Msg::Finish(done)).ok();
        }
        Finishing {
            recorder: self,
            wait,
        }
    }
}
