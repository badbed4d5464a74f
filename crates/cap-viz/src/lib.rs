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
use cap_sim::visual::{SharedObserver, StepObserver, VisualBody};
use cap_sim::world::World;
use rerun::external::arrow::array::StringArray;
use rerun::log::TimeColumn;
use rerun::{RecordingStream, RecordingStreamBuilder};

mod rrd_file;
use rrd_file::RrdFile;

/// The rerun version recordings are written with; view them with the same viewer
/// (`pip install rerun-sdk==0.36.3`, or `scripts/fetch-rerun.sh`).
pub const RERUN_VERSION: &str = "0.36.3";

/// The port a viewer listens on unless told otherwise (rerun's default).
pub const DEFAULT_VIEWER_PORT: u16 = 9876;

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

/// What the episodes of a recording share.
#[derive(Default)]
struct Shared {
    /// Entity paths of the world's bodies (also the frame names of the bodies that
    /// move) and whether each moves (meshes are logged once, by the first episode, then
    /// only the poses of the bodies that move).
    bodies: Arc<Vec<(String, bool)>>,
    /// The bodies themselves (their handles, to read poses).
    visual: Arc<Vec<VisualBody>>,
    /// Whether the static meshes are logged.
    meshes_logged: bool,
    /// Episodes begun so far (the next one's number).
    episodes: u64,
}

/// An episode's samples not yet sent, and its TCP path (owned by the episode's thread).
#[derive(Default)]
struct EpisodeState {
    /// Samples not yet sent.
    samples: Samples,
    /// The TCP path of the whole episode (the samples are sent in batches).
    tcp_path: Vec<[f32; 3]>,
    /// The last physics step sampled (the episode's length if it never ends).
    last_step: u64,
}

/// Physics steps between the end of an episode and the start of the next one on the
/// recording's timelines (one second).
fn episode_gap() -> u64 {
    (1.0 / cap_sim::world::DT_S).round() as u64
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

/// A value is logged again only when it moved more than this (metres, quaternion
/// components): rerun shows the latest value, so a body at rest costs nothing.
const CHANGE_EPS: f32 = 1e-4;

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

/// A pose: translation and quaternion (x, y, z, w).
type Pose = ([f32; 3], [f32; 4]);

/// Values that can tell whether they changed.
trait Changed {
    fn changed_from(&self, last: &Self) -> bool;
}

impl Changed for [f32; 3] {
    fn changed_from(&self, last: &Self) -> bool {
        self.iter()
            .zip(last)
            .any(|(a, b)| (a - b).abs() > CHANGE_EPS)
    }
}

impl Changed for Pose {
    fn changed_from(&self, last: &Self) -> bool {
        self.0.changed_from(&last.0)
            || self
                .1
                .iter()
                .zip(&last.1)
                .any(|(a, b)| (a - b).abs() > CHANGE_EPS)
    }
}

impl Changed for f64 {
    fn changed_from(&self, last: &Self) -> bool {
        (self - last).abs() > f64::from(CHANGE_EPS) / 10.0
    }
}

/// One entity's samples not yet sent: the steps at which it changed and its values.
struct Track<T> {
    steps: Vec<i64>,
    values: Vec<T>,
    /// The last value logged (kept across the episode's batches).
    last: Option<T>,
}

impl<T> Default for Track<T> {
    fn default() -> Self {
        Self {
            steps: Vec::new(),
            values: Vec::new(),
            last: None,
        }
    }
}

impl<T: Changed + Clone> Track<T> {
    fn push(&mut self, step: i64, value: T) {
        if self.last.as_ref().is_some_and(|l| !value.changed_from(l)) {
            return;
        }
        self.last = Some(value.clone());
        self.steps.push(step);
        self.values.push(value);
    }

    /// The unsent samples (the last value stays, to compare with).
    fn take(&mut self) -> Self {
        Self {
            steps: std::mem::take(&mut self.steps),
            values: std::mem::take(&mut self.values),
            last: None,
        }
    }
}

/// The three timelines of rows logged at `steps` (on the recording's `step` timeline) of
/// `attempt`; `sim_time` follows from `step`.
fn time_columns(steps: &[i64], attempt: i64) -> [TimeColumn; 3] {
    [
        TimeColumn::new_sequence("step", steps.iter().copied()),
        TimeColumn::new_duration_secs(
            "sim_time",
            steps.iter().map(|&s| s as f64 * cap_sim::world::DT_S),
        ),
        TimeColumn::new_sequence("attempt", std::iter::repeat_n(attempt, steps.len())),
    ]
}

/// Samples buffered during an episode, sent as columns (one chunk per entity per batch
/// instead of a log call per entity per sample).
#[derive(Default)]
struct Samples {
    /// Per body (same order as `EpisodeCtx::bodies`).
    poses: Vec<Track<Pose>>,
    tcp: Track<Pose>,
    gripper: Track<f64>,
    /// Samples taken since the last batch was sent.
    taken: usize,
}

impl Samples {
    /// The unsent part, leaving the last values to compare with.
    fn take(&mut self) -> Self {
        let taken = std::mem::take(&mut self.taken);
        Self {
            poses: self.poses.iter_mut().map(Track::take).collect(),
            tcp: self.tcp.take(),
            gripper: self.gripper.take(),
            taken,
        }
    }
}

/// A recording being closed ([`Recorder::finish_in_background`]).
#[must_use = "`wait` says whether the recording was written"]
pub struct Finishing<'a> {
    recorder: &'a Recorder,
    wait: mpsc::Receiver<Result<(), VizError>>,
}

impl Finishing<'_> {
    /// Wait until the recording is closed; the first error of any sink, or why the
    /// stream never opened.
    pub fn wait(self) -> Result<(), VizError> {
        self.wait.recv().unwrap_or_else(|_| {
            Err(self
                .recorder
                .failed
                .lock()
                .ok()
                .and_then(|mut f| f.take())
                .unwrap_or_else(|| VizError::Flush("the recording is closed already".into())))
        })
    }
}

/// Work for the writer thread: everything that touches the rerun stream.
type Job = Box<dyn FnOnce(&RecordingStream) + Send>;

/// Work on an episode's rows: given where the episode starts on the `step` timeline.
type EpisodeJob = Box<dyn FnOnce(&RecordingStream, u64) + Send>;

/// What the writer thread is asked to do.
enum Msg {
    /// Log something that belongs to no episode (meshes, a report).
    Job(Job),
    /// Episode `id` began (ids are sent in the order the episodes began).
    Begin(u64),
    /// Log rows of episode `id`.
    Episode(u64, EpisodeJob),
    /// Episode `id` ended after `steps` physics steps; nothing more comes for it.
    End { id: u64, steps: u64 },
    /// Close the recording and report how it went.
    Finish(mpsc::Sender<Result<(), VizError>>),
}

/// An episode waiting for its place on the timelines.
struct Waiting {
    id: u64,
    /// Its rows so far.
    jobs: Vec<EpisodeJob>,
    /// Its length, once it ended.
    steps: Option<u64>,
}

/// Where the episodes of a recording go on the `step` (and `sim_time`) timeline: one
/// after the other in the order they began, each [`episode_gap`] after the previous
/// one ended, so scrubbing plays them in turn. Episodes that run at the same time (the
/// seeds of an eval task) are placed all the same: the rows of an episode whose start
/// is not known yet (the one before it still runs) wait on the writer thread.
struct Placement {
    /// Where the next episode starts, once known (`None` while [`Self::current`] runs).
    next_start: Option<u64>,
    /// The episode placed last, still running: its id and start.
    current: Option<(u64, u64)>,
    /// Episodes not placed yet, in the order they began.
    waiting: std::collections::VecDeque<Waiting>,
}

impl Default for Placement {
    fn default() -> Self {
        Self {
            next_start: Some(0),
            current: None,
            waiting: std::collections::VecDeque::new(),
        }
    }
}

impl Placement {
    fn begin(&mut self, rec: &RecordingStream, id: u64) {
        self.waiting.push_back(Waiting {
            id,
            jobs: Vec::new(),
            steps: None,
        });
        self.place(rec);
    }

    fn job(&mut self, rec: &RecordingStream, id: u64, job: EpisodeJob) {
        match self.current {
            Some((current, start)) if current == id => job(rec, start),
            _ => {
                if let Some(w) = self.waiting.iter_mut().find(|w| w.id == id) {
                    w.jobs.push(job);
                }
            }
        }
    }

    fn end(&mut self, rec: &RecordingStream, id: u64, steps: u64) {
        match self.current {
            Some((current, start)) if current == id => {
                self.current = None;
                self.next_start = Some(start + steps + episode_gap());
                self.place(rec);
            }
            _ => {
                if let Some(w) = self.waiting.iter_mut().find(|w| w.id == id) {
                    w.steps = Some(steps);
                }
            }
        }
    }

    /// Place the waiting episodes whose start is known, logging their rows.
    fn place(&mut self, rec: &RecordingStream) {
        while let Some(start) = self.next_start {
            let Some(w) = self.waiting.pop_front() else {
                break;
            };
            for job in w.jobs {
                job(rec, start);
            }
            match w.steps {
                Some(steps) => self.next_start = Some(start + steps + episode_gap()),
                None => {
                    self.current = Some((w.id, start));
                    self.next_start = None;
                }
            }
        }
    }

    /// Closing the recording: episodes still waiting behind one that never ended
    /// (every episode handle ends on drop, so only a leaked one) are placed after its
    /// start rather than lost.
    fn close(&mut self, rec: &RecordingStream) {
        if let Some((_, start)) = self.current.take() {
            self.next_start = Some(start + episode_gap());
        }
        for w in &mut self.waiting {
            w.steps.get_or_insert(0);
        }
        self.place(rec);
    }
}

/// An open recording: the stream, and where its files report write errors.
struct Opened {
    rec: RecordingStream,
    files: Vec<rrd_file::WriteError>,
    /// Whether a viewer is among the sinks (a gRPC connection can fail while the
    /// recording runs; only a flush finds out).
    network: bool,
}

impl Opened {
    fn new(rec: RecordingStream, files: Vec<rrd_file::WriteError>, network: bool) -> Self {
        // rerun stamps rows with the wall-clock time they were logged (`log_time`) unless
        // told not to; a run's times are its sim time, step and attempt (and every
        // timeline costs a set of columns in the file's footer).
        rec.set_log_time_enabled(false);
        Self {
            rec,
            files,
            network,
        }
    }

    /// Flush a viewer's connection (to learn whether it still holds), then close the
    /// stream: rerun sends what is pending and drops the sinks, and a file gets its
    /// footer. The first error of any sink.
    fn close(self) -> Result<(), VizError> {
        let flushed = if self.network {
            self.rec
                .flush_blocking()
                .map_err(|e| VizError::Flush(e.to_string()))
        } else {
            Ok(())
        };
        drop(self.rec);
        let written = self
            .files
            .iter()
            .find_map(|e| e.lock().ok().and_then(|e| e.clone()))
            .map_or(Ok(()), |e| Err(VizError::Flush(e)));
        let logging = LOG_ERROR
            .with(|slot| slot.borrow_mut().take())
            .map_or(Ok(()), |e| Err(VizError::Flush(e)));
        flushed.and(written).and(logging)
    }
}

thread_local! {
    /// The first error of a `log` call on this writer thread (each recorder has its own
    /// writer thread, and every call that touches its stream runs there).
    static LOG_ERROR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Keep the first error of logging `what` (rerun refusing a row: a bug of ours, not a
/// sink's), so that closing the recording reports it instead of the row silently going
/// missing.
fn logged<E: std::fmt::Display>(what: &str, result: Result<(), E>) {
    if let Err(e) = result {
        LOG_ERROR.with(|slot| {
            slot.borrow_mut()
                .get_or_insert_with(|| format!("logging {what}: {e}"));
        });
    }
}

/// Opens the stream, on the writer thread.
type Open = Box<dyn FnOnce() -> Result<Opened, VizError> + Send>;

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

/// Set all three timelines on the calling thread (rerun's time context is per thread).
/// `step` is on the recording's timeline (the episode's start included); `sim_time` is
/// `step` physics steps.
fn set_time(rec: &RecordingStream, step: u64, attempt: i64) {
    rec.set_time_sequence("step", step as i64);
    rec.set_duration_secs("sim_time", step as f64 * cap_sim::world::DT_S);
    rec.set_time_sequence("attempt", attempt);
}

/// The viewer `--spawn` starts: `None` for the `rerun` on PATH, else the one
/// `scripts/fetch-rerun.sh` installed; an error when there is neither.
fn spawn_executable() -> Result<Option<PathBuf>, String> {
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

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

fn level(ev: &TraceEvent) -> &'static str {
    match &ev.event {
        EventKind::Abort { .. } => rerun::TextLogLevel::ERROR,
        EventKind::End {
            success: Some(false),
            ..
        } => rerun::TextLogLevel::ERROR,
        EventKind::Call {
            failure: Some(_), ..
        } => rerun::TextLogLevel::WARN,
        EventKind::Checkpoint {
            verdicts,
            disagreement,
            ..
        } => {
            if *disagreement
                || verdicts
                    .first()
                    .is_some_and(|v| v.answer == Answer::DoesNotHold)
            {
                rerun::TextLogLevel::WARN
            } else {
                rerun::TextLogLevel::INFO
            }
        }
        EventKind::Call { function, .. } if function == "print" || function == "say" => {
            rerun::TextLogLevel::INFO
        }
        EventKind::Call { .. } => rerun::TextLogLevel::DEBUG,
        EventKind::Start { .. } | EventKind::End { .. } => rerun::TextLogLevel::INFO,
    }
}

/// One line for a trace event.
fn describe(ev: &TraceEvent) -> String {
    let at = match (ev.line, &ev.subgoal) {
        (Some(l), Some(s)) => format!("line {l} [{s}] "),
        (Some(l), None) => format!("line {l} "),
        (None, Some(s)) => format!("[{s}] "),
        (None, None) => String::new(),
    };
    let body = match &ev.event {
        EventKind::Start {
            scene, task, seed, ..
        } => format!(
            "start: scene {scene}, task {}, seed {seed}",
            task.as_deref().unwrap_or("-")
        ),
        EventKind::Call {
            function,
            args,
            result,
            failure,
            ..
        } => {
            let args: Vec<String> = args.iter().map(ToString::to_string).collect();
            match failure {
                Some(f) => format!(
                    "{function}({}) failed: {}: {}",
                    args.join(", "),
                    f.kind,
                    f.message
                ),
                None => format!("{function}({}) -> {result}", args.join(", ")),
            }
        }
        EventKind::Abort { failure } => format!("abort: {}: {}", failure.kind, failure.message),
        EventKind::Checkpoint {
            statement,
            verdicts,
            disagreement,
            ..
        } => {
            let v: Vec<String> = verdicts
                .iter()
                .map(|v| format!("{} {} ({:.2})", v.inspector, v.answer.label(), v.confidence))
                .collect();
            format!(
                "checkpoint \"{statement}\": {}{}",
                v.join(", "),
                if *disagreement {
                    " — inspectors disagree"
                } else {
                    ""
                }
            )
        }
        EventKind::End {
            success, failure, ..
        } => match (success, failure) {
            (_, Some(f)) => format!("end: failed: {}: {}", f.kind, f.message),
            (Some(true), None) => "end: success".into(),
            _ => "end".into(),
        },
    };
    format!("{at}{body}")
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

/// One recorded episode: what it shares with the recording, its place in it, and its
/// own samples. The episode's thread samples into it at every physics step
/// ([`Watch`]); rows go to the writer thread as [`Msg::Episode`] jobs.
struct EpisodeCtx {
    recorder: Arc<Recorder>,
    /// The episode's number in the recording (see [`Placement`]).
    id: u64,
    /// The repair loop's attempt (the `attempt` timeline).
    attempt: i64,
    bodies: Arc<Vec<(String, bool)>>,
    visual: Arc<Vec<VisualBody>>,
    state: Mutex<EpisodeState>,
}

impl EpisodeCtx {
    /// Take a sample of every body, the TCP and the gripper (buffered; see
    /// [`Self::send_samples`]).
    fn sample(&self, world: &World, s: &mut EpisodeState) {
        let poses = world.visual_poses(&self.visual);
        let step = world.steps();
        s.last_step = step;
        let step = step as i64;
        let sm = &mut s.samples;
        sm.poses.resize_with(poses.len(), Track::default);
        for (track, p) in sm.poses.iter_mut().zip(poses) {
            track.push(step, (p.translation, p.rotation_xyzw));
        }
        let tcp = world.tcp();
        let (t, q) = (tcp.translation.vector, tcp.rotation.coords);
        let t = [t.x as f32, t.y as f32, t.z as f32];
        sm.tcp
            .push(step, (t, [q.x as f32, q.y as f32, q.z as f32, q.w as f32]));
        sm.gripper.push(step, world.gripper_opening_m());
        sm.taken += 1;
        s.tcp_path.push(t);
        if s.samples.taken
            >= self
                .recorder
                .batch
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            self.send_samples(s);
        }
    }

    /// Hand the buffered samples to the writer thread, which sends them as columns
    /// (timelines `step`, `sim_time`, `attempt`).
    fn send_samples(&self, s: &mut EpisodeState) {
        let batch = s.samples.take();
        if batch.taken == 0 {
            return;
        }
        let bodies = Arc::clone(&self.bodies);
        let attempt = self.attempt;
        self.recorder.submit_episode(self.id, move |rec, start| {
            send_columns(rec, &bodies, &batch, attempt, start);
        });
    }

    /// Log a TCP path (a line strip; its colour is static) at `entity`, at `step` of
    /// the episode.
    fn log_path(&self, entity: &'static str, points: Vec<[f32; 3]>, step: u64) {
        let attempt = self.attempt;
        self.recorder.submit_episode(self.id, move |rec, start| {
            set_time(rec, start + step, attempt);
            logged(
                "a path",
                rec.log(entity, &rerun::LineStrips3D::new([points])),
            );
        });
    }

    /// Log the episode's trace (at each event's sim time) and its checkpoint frames
    /// (read from `dir`, where the monitor wrote them), on the writer thread.
    fn log_trace(&self, trace: Vec<TraceEvent>, dir: Option<PathBuf>) {
        let attempt = self.attempt;
        self.recorder.submit_episode(self.id, move |rec, start| {
            // The text log as one column chunk (one call instead of one per event).
            if !trace.is_empty() {
                let steps: Vec<i64> = trace.iter().map(|e| (start + e.step) as i64).collect();
                let index = time_columns(&steps, attempt);
                if let Ok(cols) = rerun::TextLog::update_fields()
                    .with_many_text(trace.iter().map(describe))
                    .with_many_level(trace.iter().map(level))
                    .columns_of_unit_batches()
                {
                    logged("trace", rec.send_columns("trace", index, cols));
                }
            }
            for ev in &trace {
                if matches!(ev.event, EventKind::Checkpoint { .. }) {
                    set_time(rec, start + ev.step, attempt);
                    log_checkpoint(rec, ev, dir.as_deref());
                }
            }
        });
    }

    /// The episode ended after `steps` physics steps: its place on the timelines is
    /// settled, and the next episode's.
    fn end(&self, steps: u64) {
        self.recorder.send(Msg::End { id: self.id, steps });
    }
}

/// Send samples as columns: the poses of every body that moved and of the TCP as one
/// chunk at [`POSES`] (one row per frame and sample), the gripper as another.
/// Steps are the episode's own; `start` places them on the recording's timeline.
fn send_columns(
    rec: &RecordingStream,
    bodies: &[(String, bool)],
    batch: &Samples,
    attempt: i64,
    start: u64,
) {
    let start = start as i64;
    let mut rows: Vec<(i64, &str, &Pose)> = bodies
        .iter()
        .zip(&batch.poses)
        .filter(|((_, dynamic), _)| *dynamic)
        .map(|((frame, _), t)| (frame.as_str(), t))
        .chain([(TCP, &batch.tcp)])
        .flat_map(|(frame, t)| {
            t.steps
                .iter()
                .zip(&t.values)
                .map(move |(&step, pose)| (start + step, frame, pose))
        })
        .collect();
    if !rows.is_empty() {
        rows.sort_by_key(|r| r.0);
        let steps: Vec<i64> = rows.iter().map(|r| r.0).collect();
        // The frame names as one arrow string column (rerun's builder would make a
        // `String` of every row's name first).
        let frames = rerun::SerializedComponentBatch::new(
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
            rerun::Transform3D::descriptor_child_frame(),
        )
        .column_of_unit_batches();
        if let (Ok(cols), Ok(frames)) = (
            rerun::Transform3D::update_fields()
                .with_many_translation(rows.iter().map(|r| r.2 .0))
                .with_many_quaternion(rows.iter().map(|r| rerun::Quaternion::from_xyzw(r.2 .1)))
                .columns_of_unit_batches(),
            frames,
        ) {
            let cols = cols.chain(std::iter::once(frames));
            logged(
                POSES,
                rec.send_columns(POSES, time_columns(&steps, attempt), cols),
            );
        }
    }
    let t = &batch.gripper;
    if !t.steps.is_empty() {
        if let Ok(cols) = rerun::Scalars::new(t.values.iter().copied()).columns_of_unit_batches() {
            let steps: Vec<i64> = t.steps.iter().map(|s| start + s).collect();
            logged(
                "world/robot/gripper_opening",
                rec.send_columns(
                    "world/robot/gripper_opening",
                    time_columns(&steps, attempt),
                    cols,
                ),
            );
        }
    }
}

/// Log the static meshes of `bodies` (a moving body's in its own frame, which
/// [`POSES`] places), the world's axes, and the look of the TCP marker, the paths and
/// the program (what changes comes later, without it).
fn log_meshes(rec: &RecordingStream, bodies: &[VisualBody]) {
    logged(
        "world",
        rec.log_static("world", &rerun::ViewCoordinates::RIGHT_HAND_Z_UP()),
    );
    for b in bodies {
        let mesh = rerun::Mesh3D::new(b.vertices.iter().copied())
            .with_triangle_indices(b.triangles.iter().map(|t| rerun::TriangleIndices::from(*t)))
            .with_vertex_colors(
                b.colors
                    .iter()
                    .map(|&[r, g, b]| rerun::Color::from_rgb(r, g, b)),
            );
        let entity = format!("world/{}", b.path);
        if b.dynamic {
            let frame = rerun::CoordinateFrame::new(entity.as_str());
            logged(
                "a body's frame",
                rec.log_static(
                    entity.as_str(),
                    &[&mesh as &dyn rerun::AsComponents, &frame],
                ),
            );
        } else {
            logged("a mesh", rec.log_static(entity, &mesh));
        }
    }
    // The TCP marker: a point at the origin of its frame.
    logged(
        TCP,
        rec.log_static(
            TCP,
            &[
                &rerun::Points3D::new([[0.0, 0.0, 0.0]])
                    .with_radii([0.006])
                    .with_colors([color(TCP_RGB)]) as &dyn rerun::AsComponents,
                &rerun::CoordinateFrame::new(TCP),
            ],
        ),
    );
    for (entity, rgb) in [(PLANNED_PATH, PLANNED_RGB), (TCP_PATH, TCP_RGB)] {
        logged(
            "a path colour",
            rec.log_static(
                entity,
                &rerun::LineStrips3D::update_fields().with_colors([color(rgb)]),
            ),
        );
    }
    logged(
        "program",
        rec.log_static(
            "program",
            &rerun::TextDocument::update_fields().with_media_type(rerun::MediaType::markdown()),
        ),
    );
    // Hand the meshes to rerun's encoder and file threads now (its batcher would hold
    // them for up to 200 ms), so they are written while the episode runs.
    logged("the meshes (flush)", rec.flush_async());
}

/// Log the checkpoint images and verdicts of `ev` (images relative to `dir`).
fn log_checkpoint(rec: &RecordingStream, ev: &TraceEvent, dir: Option<&Path>) {
    let EventKind::Checkpoint {
        statement,
        verdicts,
        images,
        disagreement,
        ..
    } = &ev.event
    else {
        return;
    };
    let mut cameras: Vec<String> = Vec::new();
    for rel in images {
        // `checkpoints/[EPISODE/]NNN_CAM_rgb.png`: camera between the index and the kind.
        let Some(stem) = Path::new(rel).file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let Some((head, kind)) = stem.rsplit_once('_') else {
            continue;
        };
        let cam = head.split_once('_').map_or(head, |(_, c)| c).to_string();
        let kind = match kind {
            "rgb" => "rgb",
            "depth" => "depth",
            "seg" => "segmentation",
            _ => continue,
        };
        let path = dir.map_or_else(|| PathBuf::from(rel), |d| d.join(rel));
        if let Ok(img) = rerun::EncodedImage::from_file(&path) {
            logged(
                "a checkpoint frame",
                rec.log(format!("camera/{cam}/{kind}"), &img),
            );
        }
        if !cameras.contains(&cam) {
            cameras.push(cam);
        }
    }
    let verdict_text = {
        let v: Vec<String> = verdicts
            .iter()
            .map(|v| {
                format!(
                    "{}: {} (confidence {:.2}{})",
                    v.inspector,
                    v.answer.label(),
                    v.confidence,
                    if v.model.is_empty() {
                        String::new()
                    } else {
                        format!(", {}", v.model)
                    }
                )
            })
            .collect();
        format!(
            "\"{statement}\" — {}{}",
            v.join("; "),
            if *disagreement {
                " — inspectors disagree"
            } else {
                ""
            }
        )
    };
    if cameras.is_empty() {
        cameras.push("none".into());
    }
    for cam in cameras {
        logged(
            "checkpoint verdicts",
            rec.log(
                format!("camera/{cam}/verdicts"),
                &rerun::TextLog::new(verdict_text.clone()).with_level(level(ev)),
            ),
        );
    }
}

/// Evenly spaced points of `path` (first and last kept), at most `max` of them.
fn decimate(path: &[Joints], max: usize) -> Vec<Joints> {
    if path.len() <= max || max < 2 {
        return path.to_vec();
    }
    (0..max)
        .map(|i| path[i * (path.len() - 1) / (max - 1)])
        .collect()
}

/// The part of an episode's recording that watches its world while it runs.
struct Watch(Arc<EpisodeCtx>);

impl StepObserver for Watch {
    fn on_step(&self, world: &World) {
        let e = &self.0;
        if !world.steps().is_multiple_of(e.recorder.sample_every) {
            return;
        }
        if let Ok(mut s) = e.state.lock() {
            e.sample(world, &mut s);
        }
    }

    fn on_plan(&self, world: &World, path: &[Joints]) {
        let pts = world.tcp_path(&decimate(path, PLAN_POINTS));
        self.0.log_path(PLANNED_PATH, pts, world.steps());
    }
}

/// An episode being recorded: ends (and settles its place on the timelines) when the
/// episode ends, or when dropped.
struct Recording {
    ctx: Arc<EpisodeCtx>,
    images_dir: Option<PathBuf>,
    ended: bool,
}

impl RecordedEpisode for Recording {
    fn observer(&self) -> Option<SharedObserver> {
        Some(Arc::new(Watch(Arc::clone(&self.ctx))))
    }

    fn end(mut self: Box<Self>, world: &World, trace: &[TraceEvent]) {
        let e = &self.ctx;
        let path = match e.state.lock() {
            Ok(mut s) => {
                e.sample(world, &mut s);
                e.send_samples(&mut s);
                std::mem::take(&mut s.tcp_path)
            }
            Err(_) => Vec::new(),
        };
        let steps = world.steps();
        e.log_path(TCP_PATH, path, steps);
        e.log_trace(trace.to_vec(), self.images_dir.clone());
        e.end(steps);
        self.ended = true;
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if !self.ended {
            // An episode that never reached its end (a panic): what was sampled is
            // sent, and the episodes after it get their place.
            let steps = match self.ctx.state.lock() {
                Ok(mut s) => {
                    self.ctx.send_samples(&mut s);
                    s.last_step
                }
                Err(_) => 0,
            };
            self.ctx.end(steps);
        }
    }
}

/// An [`EpisodeRecorder`] for `cap-script`: the recorder plus the directory the
/// episode's checkpoint images are written to.
pub struct EpisodeLog {
    recorder: Arc<Recorder>,
    images_dir: Option<PathBuf>,
}

impl EpisodeLog {
    /// Record episodes into `recorder`; checkpoint images are found relative to `dir`.
    pub fn new(recorder: Arc<Recorder>, images_dir: Option<PathBuf>) -> Arc<Self> {
        Arc::new(Self {
            recorder,
            images_dir,
        })
    }
}

impl EpisodeRecorder for EpisodeLog {
    fn begin(
        &self,
        world: &World,
        source: &str,
        label: &str,
        attempt: u32,
    ) -> Option<Box<dyn RecordedEpisode>> {
        let r = &self.recorder;
        let (id, bodies, visual) = {
            let Ok(mut shared) = r.shared.lock() else {
                return None;
            };
            if !shared.meshes_logged {
                let bodies = world.visual_bodies();
                shared.bodies = Arc::new(
                    bodies
                        .iter()
                        .map(|b| (format!("world/{}", b.path), b.dynamic))
                        .collect(),
                );
                shared.visual = Arc::new(bodies.clone());
                r.submit(move |rec| log_meshes(rec, &bodies));
                shared.meshes_logged = true;
            }
            let id = shared.episodes;
            shared.episodes += 1;
            // Sent under the lock: the writer sees the episodes in the order they
            // began, which is the order they play in.
            r.send(Msg::Begin(id));
            (id, Arc::clone(&shared.bodies), Arc::clone(&shared.visual))
        };
        let ctx = Arc::new(EpisodeCtx {
            recorder: Arc::clone(r),
            id,
            attempt: i64::from(attempt),
            bodies,
            visual,
            state: Mutex::new(EpisodeState::default()),
        });
        let title = if label.is_empty() {
            "program".to_string()
        } else {
            label.to_string()
        };
        let text = format!("*{title}*\n\n```rust\n{source}\n```\n");
        let (step, attempt) = (world.steps(), ctx.attempt);
        r.submit_episode(id, move |rec, start| {
            set_time(rec, start + step, attempt);
            logged(
                "program",
                rec.log("program", &rerun::TextDocument::new(text)),
            );
        });
        if let Ok(mut s) = ctx.state.lock() {
            ctx.sample(world, &mut s);
        }
        Some(Box::new(Recording {
            ctx,
            images_dir: self.images_dir.clone(),
            ended: false,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_core::scene::Scene;
    use cap_script::run::{run_episode, EpisodeOptions};
    use rerun::log::{Chunk, LogMsg};
    use std::collections::BTreeMap;

    const PICK_PLACE: &str = "pick(\"red_block\");\nplace_on(\"red_block\", \"blue_plate\");\n";

    /// What a recording holds: the steps (on the `step` timeline) of the rows logged
    /// per entity (`/world/...`) and per frame of [`POSES`] (`frame:world/...`), checking
    /// that `sim_time` agrees with `step` on every row; and the static frame of each
    /// entity that has one.
    struct Logged {
        rows: BTreeMap<String, Vec<i64>>,
        frames: BTreeMap<String, String>,
    }

    fn logged(msgs: Vec<LogMsg>) -> Logged {
        let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut frames = BTreeMap::new();
        for m in msgs {
            let LogMsg::ArrowMsg(_, arrow) = m else {
                continue;
            };
            let chunk = Chunk::from_arrow_msg(&arrow).unwrap();
            let entity = chunk.entity_path().to_string();
            for frame in chunk.iter_slices::<String>("CoordinateFrame:frame".into()) {
                frames.insert(entity.clone(), frame[0].to_string());
            }
            let timelines = chunk.timelines();
            let Some(step) = timelines.get(&"step".into()) else {
                continue;
            };
            let time = timelines.get(&"sim_time".into()).unwrap();
            for (s, t) in step.times_raw().iter().zip(time.times_raw()) {
                let expect = (*s as f64 * cap_sim::world::DT_S * 1e9).round() as i64;
                assert!(
                    (t - expect).abs() <= 1,
                    "{entity}: sim_time {t} ns at step {s}"
                );
            }
            if entity == format!("/{POSES}") {
                let children = chunk.iter_slices::<String>("Transform3D:child_frame".into());
                for (s, frame) in step.times_raw().iter().zip(children) {
                    out.entry(format!("frame:{}", frame[0]))
                        .or_default()
                        .push(*s);
                }
            }
            out.entry(entity)
                .or_default()
                .extend_from_slice(step.times_raw());
        }
        for v in out.values_mut() {
            v.sort_unstable();
        }
        Logged { rows: out, frames }
    }

    #[test]
    fn episodes_play_in_turn_and_bodies_at_rest_are_logged_once_per_episode() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let scene = Arc::new(Scene::load(root.join("scenes/tabletop.toml")).unwrap());
        let (stream, storage) = RecordingStreamBuilder::new("cap").memory().unwrap();
        let recorder = Recorder::from_stream(stream, DEFAULT_SAMPLE_EVERY).unwrap();
        let opts = EpisodeOptions {
            recorder: Some(EpisodeLog::new(Arc::clone(&recorder), None)),
            ..EpisodeOptions::default()
        };
        // Seeds 0, 0, 1: the second episode starts exactly as the first did; seed 1
        // places the objects a little differently.
        let mut ends = Vec::new();
        for seed in [0, 0, 1] {
            let w = World::new(Arc::clone(&scene), seed).unwrap();
            let e = run_episode(w, PICK_PLACE, None, &opts);
            assert!(e.abort.is_none(), "{:?}", e.abort);
            ends.push(e.world.steps() as i64);
        }
        recorder.finish().unwrap();
        let Logged { rows, frames } = logged(storage.take());

        // The first episode keeps its own steps; each next one starts a second after
        // the previous one ended.
        let starts = [0, ends[0] + 240, ends[0] + 240 + ends[1] + 240];
        let trace = &rows["/trace"];
        assert_eq!(trace[0], 0);
        for i in 0..3 {
            let inside = |s: &i64| (starts[i]..=starts[i] + ends[i]).contains(s);
            assert!(trace.contains(&starts[i]), "{trace:?}");
            assert!(trace.contains(&(starts[i] + ends[i])), "{trace:?}");
            if i > 0 {
                let gap = starts[i - 1] + ends[i - 1] + 1..starts[i];
                assert!(!trace.iter().any(|s| gap.contains(s)), "{trace:?}");
            }
            assert!(trace.iter().filter(|s| inside(s)).count() >= 4);
        }
        assert_eq!(*trace.last().unwrap(), starts[2] + ends[2]);
        assert_eq!(rows["/program"], starts.to_vec());

        // Every moving body's mesh is in its own frame, placed by the poses.
        for body in ["world/objects/green_block", "world/robot/link3", TCP] {
            assert_eq!(frames[&format!("/{body}")], body);
        }
        assert!(!frames.contains_key("/world/table"));
        // Poses are one chunk per batch at POSES, not rows of the bodies' entities.
        assert!(!rows.contains_key("/world/robot/link3"));
        // A block nobody touches is logged once per episode, at its start (each
        // episode is whole on its own, whatever ran before it).
        assert_eq!(rows["frame:world/objects/green_block"], starts.to_vec());
        // The arm moves in every episode and goes back home for the next one.
        let link = &rows["frame:world/robot/link3"];
        assert!(link.len() > 40, "{} samples of link3", link.len());
        assert!(link.contains(&starts[1]) && link.contains(&starts[2]));
        // Samples fall on the sampling grid of their episode (or its last step).
        let on_grid = |s: i64| {
            (0..3).any(|i| {
                let o = s - starts[i];
                (0..=ends[i]).contains(&o) && (o % DEFAULT_SAMPLE_EVERY as i64 == 0 || o == ends[i])
            })
        };
        assert!(link.iter().all(|&s| on_grid(s)), "{link:?}");
        // The table does not move at all: only its mesh, no poses.
        assert!(!rows.contains_key("frame:world/table"));
        assert!(rows["frame:world/robot/tcp"].len() > 40);
        for entity in [
            "/world/robot/gripper_opening",
            "/world/robot/planned_path",
            "/world/robot/tcp_path",
        ] {
            assert!(
                rows.contains_key(entity),
                "{entity} missing: {:?}",
                rows.keys()
            );
        }
    }

    #[test]
    fn episodes_that_run_at_the_same_time_play_in_the_order_they_began() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let scene = Arc::new(Scene::load(root.join("scenes/tabletop.toml")).unwrap());
        let (stream, storage) = RecordingStreamBuilder::new("cap").memory().unwrap();
        let recorder = Recorder::from_stream(stream, DEFAULT_SAMPLE_EVERY).unwrap();
        let log = EpisodeLog::new(Arc::clone(&recorder), None);
        let begin = |seed: u64| {
            let mut w = World::new(Arc::clone(&scene), seed).unwrap();
            let r = log
                .begin(&w, "settle();", &format!("seed {seed}"), 0)
                .unwrap();
            w.set_observer(r.observer());
            (w, r)
        };
        let run = |w: &mut World, steps: u64| {
            for _ in 0..steps {
                w.step_physics();
            }
        };
        // A begins, then B and C; B runs and ends first, then C, then A; a fourth
        // episode, D, is dropped without ending (a panicking episode).
        let (mut a, ra) = begin(0);
        let (mut b, rb) = begin(1);
        let (mut c, rc) = begin(2);
        run(&mut b, 500);
        rb.end(&b, &[]);
        run(&mut c, 100);
        rc.end(&c, &[]);
        run(&mut a, 300);
        let (mut d, rd) = begin(3);
        run(&mut d, 48);
        drop(rd);
        ra.end(&a, &[]);
        recorder.finish().unwrap();
        let Logged { rows, .. } = logged(storage.take());

        let gap = 240;
        let starts = [
            0,
            300 + gap,
            300 + gap + 500 + gap,
            300 + 500 + 100 + 3 * gap,
        ];
        let lens = [300, 500, 100, 48];
        assert_eq!(rows["/program"], starts.to_vec());
        // Every row of the poses and the gripper lies inside one episode.
        for entity in ["frame:world/robot/link3", "/world/robot/gripper_opening"] {
            for s in &rows[entity] {
                assert!(
                    (0..4).any(|i| (starts[i]..=starts[i] + lens[i]).contains(s)),
                    "{entity}: step {s} outside every episode {starts:?}"
                );
            }
        }
        // Each episode logs its bodies at its start and the path of its TCP at its end
        // (the one dropped has no end).
        let block = &rows["frame:world/objects/green_block"];
        assert!(starts.iter().all(|s| block.contains(s)), "{block:?}");
        assert_eq!(
            rows["/world/robot/tcp_path"],
            vec![starts[0] + 300, starts[1] + 500, starts[2] + 100]
        );
    }

    #[test]
    fn a_stream_that_cannot_be_opened_is_reported_by_finish() {
        let r = Recorder::spawn(
            Box::new(|| {
                Err(VizError::Start {
                    sink: "Save(\"run.rrd\")".into(),
                    message: "disk full".into(),
                })
            }),
            DEFAULT_SAMPLE_EVERY,
        )
        .unwrap();
        r.log_report("{}");
        let e = r.finish().unwrap_err().to_string();
        assert!(e.contains("run.rrd") && e.contains("disk full"), "{e}");
        assert!(r.finish().is_err());
    }

    #[test]
    fn planned_paths_are_thinned_to_their_shape() {
        let path: Vec<Joints> = (0..1000).map(|i| [f64::from(i); 7]).collect();
        let d = decimate(&path, PLAN_POINTS);
        assert_eq!(d.len(), PLAN_POINTS);
        assert_eq!(d[0], path[0]);
        assert_eq!(d[PLAN_POINTS - 1], path[999]);
        assert!(d.windows(2).all(|w| w[1][0] > w[0][0]));
        assert_eq!(decimate(&path[..10], PLAN_POINTS).len(), 10);
    }
}
