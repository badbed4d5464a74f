//! `cap-viz`: rerun recordings of cap runs, to watch live or replay.
//!
//! One recording per run (`cap exec`, `cap run`, a `cap eval` episode). What it holds:
//!
//! | entity | what | when |
//! |---|---|---|
//! | `world/table`, `world/objects/NAME`, `world/robot/PART` | coloured meshes (static), poses (`Transform3D`) | poses sampled every [`Recorder::sample_every`] physics steps, logged when they changed (all at the recording's first sample), sent as columns in batches |
//! | `world/robot/gripper_opening` | gripper opening, m (`Scalars`) | sampled likewise |
//! | `world/robot/tcp` | tool-centre point (`Points3D`) | sampled likewise |
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
//! after the previous one ended, so scrubbing plays them in turn (the first starts at
//! 0, so a single episode's times are its own). The `program` entry of each names its
//! episode (attempt, sample, seed).
//!
//! The episode thread only copies poses into buffers; a writer thread of the
//! recorder's own builds the columns and logs them, and rerun's threads encode and
//! write, so on a machine with a spare core the simulation barely slows down.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use cap_core::kinematics::Joints;
use cap_core::trace::{Answer, EventKind, TraceEvent};
use cap_script::run::EpisodeRecorder;
use cap_sim::visual::{SharedObserver, StepObserver, VisualBody};
use cap_sim::world::World;
use rerun::log::TimeColumn;
use rerun::{RecordingStream, RecordingStreamBuilder};

/// The rerun version recordings are written with; view them with the same viewer
/// (`pip install rerun-sdk==0.36.3`, or `scripts/fetch-rerun.sh`).
pub const RERUN_VERSION: &str = "0.36.3";

/// Where a recording goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// Write an `.rrd` file.
    Save(PathBuf),
    /// Start a viewer (the `rerun` on PATH, else the one `scripts/fetch-rerun.sh`
    /// installed) and stream to it.
    Spawn,
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

/// Mutable state of the recorder (owned by the episode thread).
#[derive(Default)]
struct State {
    /// Entity paths of the world's bodies and whether each moves (meshes are logged
    /// once, then only the poses of the bodies that move).
    bodies: Arc<Vec<(String, bool)>>,
    /// The bodies themselves (their handles, to read poses).
    visual: Vec<VisualBody>,
    /// Whether the static meshes are logged.
    meshes_logged: bool,
    /// Samples not yet sent.
    samples: Samples,
    /// The TCP path of the whole episode (the samples are sent in batches).
    tcp_path: Vec<[f32; 3]>,
    /// The current episode's attempt (the `attempt` timeline).
    attempt: i64,
    /// Where the current episode starts on the `step` timeline: each episode of a
    /// recording starts after the previous one ended, so they play in turn.
    offset: u64,
    /// Where the next episode starts.
    next_offset: u64,
}

/// Physics steps between pose samples at the default detail level (20 Hz of sim time).
pub const DEFAULT_SAMPLE_EVERY: u64 = 12;

/// Samples per batch handed to the writer thread (12 s of sim time at the default
/// rate): most episodes send once, at their end, as one chunk per entity (rerun's cost
/// is mostly per chunk); long ones stream.
const SAMPLE_BATCH: usize = 240;

/// At most this many points of a planned path are drawn (the paths are smooth; the
/// planner's waypoints are far denser than a line needs).
const PLAN_POINTS: usize = 48;

/// A value is logged again only when it moved more than this (metres, quaternion
/// components): rerun shows the latest value, so a body at rest costs nothing.
const CHANGE_EPS: f32 = 1e-4;

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
    /// The last value logged (kept across batches and episodes).
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

    /// The time columns of these samples (`sim_time` follows from `step`).
    fn index(&self, attempt: i64) -> [TimeColumn; 3] {
        [
            TimeColumn::new_sequence("step", self.steps.iter().copied()),
            TimeColumn::new_duration_secs(
                "sim_time",
                self.steps.iter().map(|&s| s as f64 * cap_sim::world::DT_S),
            ),
            TimeColumn::new_sequence("attempt", std::iter::repeat_n(attempt, self.steps.len())),
        ]
    }
}

/// Samples buffered during an episode, sent as columns (one chunk per entity per batch
/// instead of a log call per entity per sample).
#[derive(Default)]
struct Samples {
    /// Per body (same order as `State::bodies`).
    poses: Vec<Track<Pose>>,
    tcp: Track<[f32; 3]>,
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

/// Work for the writer thread: everything that touches the rerun stream.
type Job = Box<dyn FnOnce(&RecordingStream) + Send>;

/// A rerun recording of a run.
///
/// The episode thread only copies poses into buffers; building rerun's columns and
/// logging them happens on a writer thread of the recorder's own (and rerun's batcher
/// and file threads encode and write), so recording costs the simulation little on a
/// machine with a spare core. [`Self::finish`] waits for all of it.
pub struct Recorder {
    rec: RecordingStream,
    sample_every: u64,
    state: Mutex<State>,
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<std::thread::JoinHandle<()>>,
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
        // Closing the queue ends the writer after the jobs already queued; rerun's own
        // threads then flush and write the file's footer when the stream is dropped.
        drop(self.jobs.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Set all three timelines on the calling thread (rerun's time context is per thread).
/// `step` is on the recording's timeline (episode offset included); `sim_time` is
/// `step` physics steps.
fn set_time(rec: &RecordingStream, step: u64, attempt: i64) {
    rec.set_time_sequence("step", step as i64);
    rec.set_duration_secs("sim_time", step as f64 * cap_sim::world::DT_S);
    rec.set_time_sequence("attempt", attempt);
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
        let builder = || {
            RecordingStreamBuilder::new("cap")
                .recording_name(name)
                .send_properties(true)
        };
        let open = |sink: &Sink| -> Result<RecordingStream, VizError> {
            match sink {
                Sink::Save(path) => builder().save(path).map_err(|e| start_err(sink, &e)),
                Sink::Connect(url) => builder()
                    .connect_grpc_opts(url.clone())
                    .map_err(|e| start_err(sink, &e)),
                Sink::Spawn => {
                    let mut opts = rerun::SpawnOptions::default();
                    if !on_path("rerun") {
                        match fetched_viewer() {
                            Some(bin) => opts.executable_path = Some(bin.display().to_string()),
                            None => {
                                return Err(start_err(
                                    sink,
                                    &"no `rerun` viewer on PATH or in cap's data directory: run `bash scripts/fetch-rerun.sh` or `pip install rerun-sdk==0.36.3`",
                                ))
                            }
                        }
                    }
                    builder().spawn_opts(&opts).map_err(|e| start_err(sink, &e))
                }
            }
        };
        let rec = match sinks {
            [] => return Err(VizError::NoSink),
            [one] => open(one)?,
            many => {
                // Several sinks: open the first, then tee into the others.
                let rec = builder().buffered().map_err(|e| start_err(&many[0], &e))?;
                let mut sinks: Vec<Box<dyn rerun::sink::LogSink>> = Vec::new();
                for s in many {
                    match s {
                        Sink::Save(p) => sinks.push(Box::new(
                            rerun::sink::FileSink::new(p).map_err(|e| start_err(s, &e))?,
                        )),
                        Sink::Connect(url) => sinks.push(Box::new(
                            rerun::sink::GrpcSink::new(
                                url.parse::<rerun::external::re_uri::ProxyUri>()
                                    .map_err(|e| start_err(s, &e))?,
                            ),
                        )),
                        Sink::Spawn => {
                            return Err(start_err(
                                s,
                                &"--spawn cannot be combined with another sink; use --connect to a viewer you started",
                            ))
                        }
                    }
                }
                rec.set_sinks(sinks);
                rec
            }
        };
        Self::from_stream(rec, sample_every)
    }

    /// A recorder writing into an open stream, with its writer thread.
    fn from_stream(rec: RecordingStream, sample_every: u64) -> Result<Arc<Self>, VizError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let writer_rec = rec.clone();
        let writer = std::thread::Builder::new()
            .name("cap-viz-writer".into())
            .spawn(move || {
                for job in queue {
                    job(&writer_rec);
                }
            })
            .map_err(|e| VizError::Start {
                sink: "writer thread".into(),
                message: e.to_string(),
            })?;
        Ok(Arc::new(Self {
            rec,
            sample_every: sample_every.max(1),
            state: Mutex::new(State::default()),
            jobs: Some(jobs),
            writer: Some(writer),
        }))
    }

    /// Physics steps between logged poses.
    pub fn sample_every(&self) -> u64 {
        self.sample_every
    }

    /// Queue `job` for the writer thread (run here if that thread is gone).
    fn submit(&self, job: impl FnOnce(&RecordingStream) + Send + 'static) {
        let job: Job = Box::new(job);
        match &self.jobs {
            Some(tx) => {
                if let Err(mpsc::SendError(job)) = tx.send(job) {
                    job(&self.rec);
                }
            }
            None => job(&self.rec),
        }
    }

    /// Log a text document (a report, a prompt) at `path`, timeless.
    pub fn log_document(&self, path: &str, markdown: &str) {
        let (path, markdown) = (path.to_string(), markdown.to_string());
        self.submit(move |rec| {
            let _ = rec.log_static(
                path,
                &rerun::TextDocument::new(markdown).with_media_type(rerun::MediaType::markdown()),
            );
        });
    }

    /// Log the run's report (JSON) at `report`.
    pub fn log_report(&self, json: &str) {
        self.log_document("report", &format!("```json\n{json}\n```\n"));
    }

    /// Wait for everything logged so far to reach the sinks; a file is complete (but
    /// for its footer, written when the recorder is dropped) after this.
    pub fn finish(&self) -> Result<(), VizError> {
        let (done, wait) = mpsc::channel();
        self.submit(move |_| {
            let _ = done.send(());
        });
        // An error here means the writer thread died; rerun's flush still reports
        // whether what reached the stream was written.
        let _ = wait.recv();
        self.rec
            .flush_blocking()
            .map_err(|e| VizError::Flush(e.to_string()))
    }

    /// Take a sample of every body, the TCP and the gripper (buffered; see
    /// [`Self::send_samples`]).
    fn sample(&self, world: &World, s: &mut State, poses: Vec<cap_sim::visual::BodyPose>) {
        let step = (s.offset + world.steps()) as i64;
        let sm = &mut s.samples;
        sm.poses.resize_with(poses.len(), Track::default);
        for (track, p) in sm.poses.iter_mut().zip(poses) {
            track.push(step, (p.translation, p.rotation_xyzw));
        }
        let tcp = world.tcp().translation.vector;
        let tcp = [tcp.x as f32, tcp.y as f32, tcp.z as f32];
        sm.tcp.push(step, tcp);
        sm.gripper.push(step, world.gripper_opening_m());
        sm.taken += 1;
        s.tcp_path.push(tcp);
        if s.samples.taken >= SAMPLE_BATCH {
            self.send_samples(s);
        }
    }

    /// Hand the buffered samples to the writer thread, which sends them as columns
    /// (timelines `step`, `sim_time`, `attempt`).
    fn send_samples(&self, s: &mut State) {
        let batch = s.samples.take();
        if batch.taken == 0 {
            return;
        }
        let bodies = Arc::clone(&s.bodies);
        let attempt = s.attempt;
        self.submit(move |rec| send_columns(rec, &bodies, &batch, attempt));
    }

    /// Log a TCP path (a line strip) at `entity`, at `step` of `attempt`.
    fn log_path(
        &self,
        entity: &'static str,
        points: Vec<[f32; 3]>,
        color: rerun::Color,
        step: u64,
        attempt: i64,
    ) {
        self.submit(move |rec| {
            set_time(rec, step, attempt);
            let _ = rec.log(
                entity,
                &rerun::LineStrips3D::new([points]).with_colors([color]),
            );
        });
    }

    /// Log a finished episode's trace (at each event's sim time) and its checkpoint
    /// frames (read from `dir`, where the monitor wrote them), on the writer thread.
    fn log_trace(&self, trace: Vec<TraceEvent>, offset: u64, attempt: i64, dir: Option<PathBuf>) {
        self.submit(move |rec| {
            // The text log as one column chunk (one call instead of one per event).
            if !trace.is_empty() {
                let step = |e: &TraceEvent| offset + e.step;
                let index = [
                    TimeColumn::new_sequence("step", trace.iter().map(|e| step(e) as i64)),
                    TimeColumn::new_duration_secs(
                        "sim_time",
                        trace.iter().map(|e| step(e) as f64 * cap_sim::world::DT_S),
                    ),
                    TimeColumn::new_sequence("attempt", std::iter::repeat_n(attempt, trace.len())),
                ];
                if let Ok(cols) = rerun::TextLog::update_fields()
                    .with_many_text(trace.iter().map(describe))
                    .with_many_level(trace.iter().map(level))
                    .columns_of_unit_batches()
                {
                    let _ = rec.send_columns("trace", index, cols);
                }
            }
            for ev in &trace {
                if matches!(ev.event, EventKind::Checkpoint { .. }) {
                    set_time(rec, offset + ev.step, attempt);
                    log_checkpoint(rec, ev, dir.as_deref());
                }
            }
        });
    }
}

/// Send samples as columns, one chunk per entity that changed.
fn send_columns(rec: &RecordingStream, bodies: &[(String, bool)], batch: &Samples, attempt: i64) {
    for ((path, dynamic), t) in bodies.iter().zip(&batch.poses) {
        if !dynamic || t.steps.is_empty() {
            continue;
        }
        if let Ok(cols) = rerun::Transform3D::update_fields()
            .with_many_translation(t.values.iter().map(|v| v.0))
            .with_many_quaternion(t.values.iter().map(|v| rerun::Quaternion::from_xyzw(v.1)))
            .columns_of_unit_batches()
        {
            let _ = rec.send_columns(format!("world/{path}"), t.index(attempt), cols);
        }
    }
    let t = &batch.tcp;
    if !t.steps.is_empty() {
        if let Ok(cols) = rerun::Points3D::update_fields()
            .with_positions(t.values.iter().copied())
            .columns_of_unit_batches()
        {
            let _ = rec.send_columns("world/robot/tcp", t.index(attempt), cols);
        }
    }
    let t = &batch.gripper;
    if !t.steps.is_empty() {
        if let Ok(cols) = rerun::Scalars::new(t.values.iter().copied()).columns_of_unit_batches() {
            let _ = rec.send_columns("world/robot/gripper_opening", t.index(attempt), cols);
        }
    }
}

/// Log the static meshes of `bodies`, the world's axes and the TCP marker's look.
fn log_meshes(rec: &RecordingStream, bodies: &[VisualBody]) {
    let _ = rec.log_static("world", &rerun::ViewCoordinates::RIGHT_HAND_Z_UP());
    for b in bodies {
        let mesh = rerun::Mesh3D::new(b.vertices.iter().copied())
            .with_triangle_indices(b.triangles.iter().map(|t| rerun::TriangleIndices::from(*t)))
            .with_vertex_colors(
                b.colors
                    .iter()
                    .map(|&[r, g, b]| rerun::Color::from_rgb(r, g, b)),
            );
        let _ = rec.log_static(format!("world/{}", b.path), &mesh);
    }
    // The TCP marker's look (its positions come per sample).
    let _ = rec.log_static(
        "world/robot/tcp",
        &rerun::Points3D::update_fields()
            .with_radii([0.006])
            .with_colors([rerun::Color::from_rgb(255, 200, 0)]),
    );
    // Hand the meshes to rerun's encoder and file threads now (its batcher would hold
    // them for up to 200 ms), so they are written while the episode runs.
    let _ = rec.flush_async();
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
            let _ = rec.log(format!("camera/{cam}/{kind}"), &img);
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
        let _ = rec.log(
            format!("camera/{cam}/verdicts"),
            &rerun::TextLog::new(verdict_text.clone()).with_level(level(ev)),
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

/// The part of the recorder that watches a world while it runs.
struct Watch {
    recorder: Arc<Recorder>,
}

impl StepObserver for Watch {
    fn on_step(&self, world: &World) {
        let r = &self.recorder;
        if !world.steps().is_multiple_of(r.sample_every) {
            return;
        }
        if let Ok(mut s) = r.state.lock() {
            let poses = world.visual_poses(&s.visual);
            r.sample(world, &mut s, poses);
        }
    }

    fn on_plan(&self, world: &World, path: &[Joints]) {
        let r = &self.recorder;
        let pts = world.tcp_path(&decimate(path, PLAN_POINTS));
        let (offset, attempt) = r
            .state
            .lock()
            .map(|s| (s.offset, s.attempt))
            .unwrap_or((0, 0));
        r.log_path(
            "world/robot/planned_path",
            pts,
            rerun::Color::from_rgb(80, 160, 255),
            offset + world.steps(),
            attempt,
        );
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
    ) -> Option<SharedObserver> {
        let r = &self.recorder;
        let Ok(mut s) = r.state.lock() else {
            return None;
        };
        s.attempt = i64::from(attempt);
        // The episodes of a recording follow each other on the timelines, so a body
        // that starts where it was last logged needs no new row: rerun shows the
        // latest value. (The first episode logs every body.)
        s.tcp_path.clear();
        s.offset = s.next_offset;
        if !s.meshes_logged {
            let bodies = world.visual_bodies();
            s.bodies = Arc::new(bodies.iter().map(|b| (b.path.clone(), b.dynamic)).collect());
            s.visual = bodies.clone();
            r.submit(move |rec| log_meshes(rec, &bodies));
            s.meshes_logged = true;
        }
        let title = if label.is_empty() {
            "program".to_string()
        } else {
            label.to_string()
        };
        let text = format!("*{title}*\n\n```rust\n{source}\n```\n");
        let (step, attempt) = (s.offset + world.steps(), s.attempt);
        r.submit(move |rec| {
            set_time(rec, step, attempt);
            let _ = rec.log(
                "program",
                &rerun::TextDocument::new(text).with_media_type(rerun::MediaType::markdown()),
            );
        });
        let poses = world.visual_poses(&s.visual);
        r.sample(world, &mut s, poses);
        Some(Arc::new(Watch {
            recorder: Arc::clone(r),
        }))
    }

    fn end(&self, world: &World, trace: &[TraceEvent]) {
        let r = &self.recorder;
        let Ok(mut s) = r.state.lock() else {
            return;
        };
        let poses = world.visual_poses(&s.visual);
        r.sample(world, &mut s, poses);
        r.send_samples(&mut s);
        let path = std::mem::take(&mut s.tcp_path);
        let (offset, attempt) = (s.offset, s.attempt);
        let step = offset + world.steps();
        // The next episode of this recording starts a second after this one ended.
        s.next_offset = step + (1.0 / cap_sim::world::DT_S).round() as u64;
        r.log_path(
            "world/robot/tcp_path",
            path,
            rerun::Color::from_rgb(255, 200, 0),
            step,
            attempt,
        );
        drop(s);
        r.log_trace(trace.to_vec(), offset, attempt, self.images_dir.clone());
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

    /// Steps (on the `step` timeline) of every row logged per entity, and per entity
    /// whether `sim_time` agrees with `step`.
    fn rows(msgs: Vec<LogMsg>) -> BTreeMap<String, Vec<i64>> {
        let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for m in msgs {
            let LogMsg::ArrowMsg(_, arrow) = m else {
                continue;
            };
            let chunk = Chunk::from_arrow_msg(&arrow).unwrap();
            let entity = chunk.entity_path().to_string();
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
            out.entry(entity)
                .or_default()
                .extend_from_slice(step.times_raw());
        }
        for v in out.values_mut() {
            v.sort_unstable();
        }
        out
    }

    #[test]
    fn episodes_play_in_turn_and_bodies_at_rest_are_logged_once() {
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
        let rows = rows(storage.take());

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

        // A block nobody touches is logged when the recording starts and when a seed
        // puts it somewhere else, not again for an episode that leaves it where it was.
        assert_eq!(rows["/world/objects/green_block"], vec![0, starts[2]]);
        // The arm moves in every episode and goes back home for the next one.
        let link = &rows["/world/robot/link3"];
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
        assert!(!rows.contains_key("/world/table"));
        for entity in [
            "/world/robot/tcp",
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
