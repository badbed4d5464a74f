//! `cap-viz`: rerun recordings of cap runs, to watch live or replay.
//!
//! One recording per run (`cap exec`, `cap run`, a `cap eval` episode). What it holds:
//!
//! | entity | what | when |
//! |---|---|---|
//! | `world/table`, `world/objects/NAME`, `world/robot/PART` | coloured meshes (static), poses (`Transform3D`) | poses every [`Recorder::sample_every`] physics steps, sent as columns in batches |
//! | `world/robot/gripper_opening` | gripper opening, m (`Scalars`) | every sample |
//! | `world/robot/tcp` | tool-centre point (`Points3D`) | every sample |
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
//! run share the entities; the `program` entry of each names its episode (attempt,
//! sample, seed).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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

/// Mutable state of the recorder.
#[derive(Default)]
struct State {
    /// Geometry of the world's bodies (logged once, then only their poses).
    bodies: Vec<VisualBody>,
    /// Whether the static meshes are logged.
    meshes_logged: bool,
    /// Samples of the current episode, sent as columns when it ends (one chunk per
    /// entity instead of a log call per entity per sample).
    samples: Samples,
    /// The TCP path of the whole episode (the samples are sent in batches).
    tcp_path: Vec<[f32; 3]>,
    /// The current episode's attempt (the `attempt` timeline).
    attempt: i64,
}

/// Physics steps between pose samples at the default detail level (20 Hz of sim time).
pub const DEFAULT_SAMPLE_EVERY: u64 = 12;

/// Samples per batch sent to rerun (12 s of sim time at the default rate: most episodes
/// send once, at their end; long ones stream).
const SAMPLE_BATCH: usize = 240;

/// Pose samples buffered during an episode.
#[derive(Default)]
struct Samples {
    steps: Vec<i64>,
    times: Vec<f64>,
    /// Per body (same order as `State::bodies`): translations and quaternions.
    translations: Vec<Vec<[f32; 3]>>,
    rotations: Vec<Vec<[f32; 4]>>,
    tcp: Vec<[f32; 3]>,
    gripper: Vec<f64>,
}

/// A rerun recording of a run.
pub struct Recorder {
    rec: RecordingStream,
    sample_every: u64,
    state: Mutex<State>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("sample_every", &self.sample_every)
            .finish_non_exhaustive()
    }
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
        Ok(Arc::new(Self {
            rec,
            sample_every: sample_every.max(1),
            state: Mutex::new(State::default()),
        }))
    }

    /// Physics steps between logged poses.
    pub fn sample_every(&self) -> u64 {
        self.sample_every
    }

    /// The underlying stream (for extra logging by the caller).
    pub fn stream(&self) -> &RecordingStream {
        &self.rec
    }

    /// Log a text document (a report, a prompt) at `path`, timeless.
    pub fn log_document(&self, path: &str, markdown: &str) {
        let _ = self.rec.log_static(
            path,
            &rerun::TextDocument::new(markdown).with_media_type(rerun::MediaType::markdown()),
        );
    }

    /// Log the run's report (JSON) at `report`.
    pub fn log_report(&self, json: &str) {
        self.log_document("report", &format!("```json\n{json}\n```\n"));
    }

    /// Flush everything to the sinks; a file is complete after this.
    pub fn finish(&self) -> Result<(), VizError> {
        self.rec
            .flush_blocking()
            .map_err(|e| VizError::Flush(e.to_string()))
    }

    fn set_time(&self, world: &World) {
        self.rec.set_time_sequence("step", world.steps() as i64);
        self.rec.set_duration_secs("sim_time", world.sim_time_s());
    }

    /// Take a pose sample (buffered; see [`Self::send_samples`]).
    fn sample(&self, world: &World, s: &mut State) {
        let poses = world.visual_poses(&s.bodies);
        let n = s.bodies.len();
        let sm = &mut s.samples;
        sm.translations.resize_with(n, Vec::new);
        sm.rotations.resize_with(n, Vec::new);
        for (i, p) in poses.into_iter().enumerate() {
            sm.translations[i].push(p.translation);
            sm.rotations[i].push(p.rotation_xyzw);
        }
        sm.steps.push(world.steps() as i64);
        sm.times.push(world.sim_time_s());
        let tcp = world.tcp().translation.vector;
        sm.tcp.push([tcp.x as f32, tcp.y as f32, tcp.z as f32]);
        sm.gripper.push(world.gripper_opening_m());
        s.tcp_path.push([tcp.x as f32, tcp.y as f32, tcp.z as f32]);
        // Send in batches, so rerun's threads encode and write them on another core
        // while the episode goes on.
        if s.samples.steps.len() >= SAMPLE_BATCH {
            self.send_samples(s);
            let _ = self.rec.flush_async();
        }
    }

    /// Send the buffered samples as columns (timelines `step`, `sim_time`, `attempt`).
    fn send_samples(&self, s: &mut State) {
        let sm = std::mem::take(&mut s.samples);
        let n = sm.steps.len();
        if n == 0 {
            return;
        }
        let index = || {
            [
                TimeColumn::new_sequence("step", sm.steps.iter().copied()),
                TimeColumn::new_duration_secs("sim_time", sm.times.iter().copied()),
                TimeColumn::new_sequence("attempt", std::iter::repeat_n(s.attempt, n)),
            ]
        };
        for (i, b) in s.bodies.iter().enumerate() {
            if !b.dynamic {
                continue;
            }
            let (Some(t), Some(q)) = (sm.translations.get(i), sm.rotations.get(i)) else {
                continue;
            };
            if let Ok(cols) = rerun::Transform3D::update_fields()
                .with_many_translation(t.iter().copied())
                .with_many_quaternion(q.iter().map(|&q| rerun::Quaternion::from_xyzw(q)))
                .columns_of_unit_batches()
            {
                let _ = self
                    .rec
                    .send_columns(format!("world/{}", b.path), index(), cols);
            }
        }
        if let Ok(cols) = rerun::Points3D::update_fields()
            .with_positions(sm.tcp.iter().copied())
            .columns_of_unit_batches()
        {
            let _ = self.rec.send_columns("world/robot/tcp", index(), cols);
        }
        if let Ok(cols) = rerun::Scalars::new(sm.gripper.iter().copied()).columns_of_unit_batches()
        {
            let _ = self
                .rec
                .send_columns("world/robot/gripper_opening", index(), cols);
        }
    }

    /// Log the checkpoint images and verdicts of `ev` (images relative to `dir`).
    fn log_checkpoint(&self, ev: &TraceEvent, dir: Option<&Path>) {
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
            // `checkpoints/NNN_CAM_rgb.png`: camera between the index and the kind.
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
                let _ = self.rec.log(format!("camera/{cam}/{kind}"), &img);
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
            let _ = self.rec.log(
                format!("camera/{cam}/verdicts"),
                &rerun::TextLog::new(verdict_text.clone()).with_level(level(ev)),
            );
        }
    }

    /// Log a finished episode's trace (at each event's sim time), its checkpoint
    /// frames (read from `dir`, where the monitor wrote them) and its TCP path.
    pub fn log_trace(&self, trace: &[TraceEvent], dir: Option<&Path>) {
        // The text log as one column chunk (one call instead of one per event).
        if !trace.is_empty() {
            let attempt = self.state.lock().map(|s| s.attempt).unwrap_or(0);
            let index = [
                TimeColumn::new_sequence("step", trace.iter().map(|e| e.step as i64)),
                TimeColumn::new_duration_secs("sim_time", trace.iter().map(|e| e.sim_time_s)),
                TimeColumn::new_sequence("attempt", std::iter::repeat_n(attempt, trace.len())),
            ];
            if let Ok(cols) = rerun::TextLog::update_fields()
                .with_many_text(trace.iter().map(describe))
                .with_many_level(trace.iter().map(level))
                .columns_of_unit_batches()
            {
                let _ = self.rec.send_columns("trace", index, cols);
            }
        }
        for ev in trace {
            if matches!(ev.event, EventKind::Checkpoint { .. }) {
                self.rec.set_time_sequence("step", ev.step as i64);
                self.rec.set_duration_secs("sim_time", ev.sim_time_s);
                self.log_checkpoint(ev, dir);
            }
        }
    }
}

/// The part of the recorder that watches a world while it runs.
struct Watch {
    recorder: Arc<Recorder>,
}

impl StepObserver for Watch {
    fn on_step(&self, world: &World) {
        if !world.steps().is_multiple_of(self.recorder.sample_every) {
            return;
        }
        if let Ok(mut s) = self.recorder.state.lock() {
            self.recorder.sample(world, &mut s);
        }
    }

    fn on_plan(&self, world: &World, path: &[Joints]) {
        let pts = world.tcp_path(path);
        self.recorder.set_time(world);
        let _ = self.recorder.rec.log(
            "world/robot/planned_path",
            &rerun::LineStrips3D::new([pts]).with_colors([rerun::Color::from_rgb(80, 160, 255)]),
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
        s.samples = Samples::default();
        s.tcp_path.clear();
        r.rec.set_time_sequence("attempt", s.attempt);
        r.set_time(world);
        if !s.meshes_logged {
            s.bodies = world.visual_bodies();
            let _ = r
                .rec
                .log_static("world", &rerun::ViewCoordinates::RIGHT_HAND_Z_UP());
            for b in &s.bodies {
                let mesh = rerun::Mesh3D::new(b.vertices.iter().copied())
                    .with_triangle_indices(
                        b.triangles.iter().map(|t| rerun::TriangleIndices::from(*t)),
                    )
                    .with_vertex_colors(
                        b.colors
                            .iter()
                            .map(|&[r, g, b]| rerun::Color::from_rgb(r, g, b)),
                    );
                let _ = r.rec.log_static(format!("world/{}", b.path), &mesh);
            }
            // The TCP marker's look (its positions come per sample).
            let _ = r.rec.log_static(
                "world/robot/tcp",
                &rerun::Points3D::update_fields()
                    .with_radii([0.006])
                    .with_colors([rerun::Color::from_rgb(255, 200, 0)]),
            );
            s.meshes_logged = true;
            // Encode and write the meshes on rerun's threads while the episode runs.
            let _ = r.rec.flush_async();
        }
        let title = if label.is_empty() {
            "program".to_string()
        } else {
            label.to_string()
        };
        let _ = r.rec.log(
            "program",
            &rerun::TextDocument::new(format!("*{title}*\n\n```rust\n{source}\n```\n"))
                .with_media_type(rerun::MediaType::markdown()),
        );
        r.sample(world, &mut s);
        Some(Arc::new(Watch {
            recorder: Arc::clone(r),
        }))
    }

    fn end(&self, world: &World, trace: &[TraceEvent]) {
        let r = &self.recorder;
        if let Ok(mut s) = r.state.lock() {
            r.sample(world, &mut s);
            r.send_samples(&mut s);
            r.set_time(world);
            let path = std::mem::take(&mut s.tcp_path);
            let _ = r.rec.log(
                "world/robot/tcp_path",
                &rerun::LineStrips3D::new([path])
                    .with_colors([rerun::Color::from_rgb(255, 200, 0)]),
            );
        }
        r.log_trace(trace, self.images_dir.as_deref());
    }
}
