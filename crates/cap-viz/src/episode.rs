//! One episode's part of a recording: what the episodes share, the episode's handle
//! (its observer samples the world; its end logs the trace and the TCP path), and the
//! static meshes.

use super::*;

/// What the episodes of a recording share.
#[derive(Default)]
pub(crate) struct Shared {
    /// Entity paths of the world's bodies (also the frame names of the bodies that
    /// move) and whether each moves (meshes are logged once, by the first episode, then
    /// only the poses of the bodies that move).
    pub(crate) bodies: Arc<Vec<(String, bool)>>,
    /// The bodies themselves (their handles, to read poses).
    pub(crate) visual: Arc<Vec<VisualBody>>,
    /// Whether the static meshes are logged.
    pub(crate) meshes_logged: bool,
    /// Episodes begun so far (the next one's number).
    pub(crate) episodes: u64,
}

/// An episode's samples not yet sent, and its TCP path (owned by the episode's thread).
#[derive(Default)]
pub(crate) struct EpisodeState {
    /// Samples not yet sent.
    pub(crate) samples: Samples,
    /// The TCP path of the whole episode (the samples are sent in batches).
    pub(crate) tcp_path: Vec<[f32; 3]>,
    /// The last physics step sampled (the episode's length if it never ends).
    pub(crate) last_step: u64,
}

/// One recorded episode: what it shares with the recording, its place in it, and its
/// own samples. The episode's thread samples into it at every physics step
/// ([`Watch`]); rows go to the writer thread as [`Msg::Episode`] jobs.
pub(crate) struct EpisodeCtx {
    pub(crate) recorder: Arc<Recorder>,
    /// The episode's number in the recording (see [`Placement`]).
    pub(crate) id: u64,
    /// The repair loop's attempt (the `attempt` timeline).
    pub(crate) attempt: i64,
    pub(crate) bodies: Arc<Vec<(String, bool)>>,
    pub(crate) visual: Arc<Vec<VisualBody>>,
    pub(crate) state: Mutex<EpisodeState>,
}

impl EpisodeCtx {
    /// Take a sample of every body, the TCP and the gripper (buffered; see
    /// [`Self::send_samples`]).
    pub(crate) fn sample(&self, world: &StepView<'_>, s: &mut EpisodeState) {
        let poses = world.poses(&self.visual);
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
    pub(crate) fn send_samples(&self, s: &mut EpisodeState) {
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
    pub(crate) fn log_path(&self, entity: &'static str, points: Vec<[f32; 3]>, step: u64) {
        let attempt = self.attempt;
        self.recorder.submit_episode(self.id, move |rec, start| {
            set_time(rec, start + step, attempt);
            logged(
                "a path",
                rec.log(entity, &rerun::LineStrips3D::new([points])),
            );
        });
    }

    /// Log a motion a real arm followed, from physics step `start_step`: each joint's
    /// commanded position (`robot/joints/jN/commanded`, every 4th set-point) and the
    /// position the arm measured (`robot/joints/jN/measured`, at its time since the arm
    /// accepted the motion), side by side on the `step` and `sim_time` timelines.
    pub(crate) fn log_joints(
        &self,
        start_step: u64,
        commanded: Vec<Joints>,
        measured: Vec<(f64, Vec<f64>)>,
    ) {
        let attempt = self.attempt;
        let n = measured.first().map_or(0, |m| m.1.len());
        self.recorder.submit_episode(self.id, move |rec, start| {
            let base = (start + start_step) as i64;
            let cmd: Vec<(i64, &Joints)> = commanded
                .iter()
                .enumerate()
                .filter(|(k, _)| k % 4 == 3)
                .map(|(k, q)| (base + k as i64 + 1, q))
                .collect();
            let meas: Vec<(i64, &Vec<f64>)> = measured
                .iter()
                .map(|(t, q)| (base + (t / cap_sim::world::DT_S).round() as i64, q))
                .collect();
            for j in 0..n {
                let series: [(String, Vec<i64>, Vec<f64>); 2] = [
                    (
                        format!("robot/joints/j{}/commanded", j + 1),
                        cmd.iter().map(|c| c.0).collect(),
                        cmd.iter().map(|c| c.1[j]).collect(),
                    ),
                    (
                        format!("robot/joints/j{}/measured", j + 1),
                        meas.iter().map(|m| m.0).collect(),
                        meas.iter()
                            .map(|m| m.1.get(j).copied().unwrap_or(f64::NAN))
                            .collect(),
                    ),
                ];
                for (entity, steps, values) in series {
                    if steps.is_empty() {
                        continue;
                    }
                    if let Ok(cols) = rerun::Scalars::new(values).columns_of_unit_batches() {
                        logged(
                            "joint positions",
                            rec.send_columns(entity, time_columns(&steps, attempt), cols),
                        );
                    }
                }
            }
        });
    }

    /// Log the episode's trace (at each event's sim time) and its checkpoint frames
    /// (read from `dir`, where the monitor wrote them), on the writer thread.
    pub(crate) fn log_trace(&self, trace: Vec<TraceEvent>, dir: Option<PathBuf>) {
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
    pub(crate) fn end(&self, steps: u64) {
        self.recorder.send(Msg::End { id: self.id, steps });
    }
}

/// Log the static meshes of `bodies` (a moving body's in its own frame, which
/// [`POSES`] places), the world's axes, and the look of the TCP marker, the paths and
/// the program (what changes comes later, without it).
pub(crate) fn log_meshes(rec: &RecordingStream, bodies: &[VisualBody]) {
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

/// Evenly spaced points of `path` (first and last kept), at most `max` of them.
pub(crate) fn decimate(path: &[Joints], max: usize) -> Vec<Joints> {
    if path.len() <= max || max < 2 {
        return path.to_vec();
    }
    (0..max)
        .map(|i| path[i * (path.len() - 1) / (max - 1)])
        .collect()
}

/// The part of an episode's recording that watches its world while it runs.
pub(crate) struct Watch(Arc<EpisodeCtx>);

impl StepObserver for Watch {
    fn on_step(&self, world: &StepView<'_>) {
        let e = &self.0;
        if !world.steps().is_multiple_of(e.recorder.sample_every) {
            return;
        }
        if let Ok(mut s) = e.state.lock() {
            e.sample(world, &mut s);
        }
    }

    fn on_plan(&self, world: &StepView<'_>, path: &[Joints]) {
        let pts = world.tcp_path(&decimate(path, PLAN_POINTS));
        self.0.log_path(PLANNED_PATH, pts, world.steps());
    }

    fn on_measured(
        &self,
        _world: &StepView<'_>,
        start_step: u64,
        commanded: &[Joints],
        measured: &[(f64, Vec<f64>)],
    ) {
        self.0
            .log_joints(start_step, commanded.to_vec(), measured.to_vec());
    }
}

/// An episode being recorded: ends (and settles its place on the timelines) when the
/// episode ends, or when dropped.
pub(crate) struct Recording {
    pub(crate) ctx: Arc<EpisodeCtx>,
    pub(crate) images_dir: Option<PathBuf>,
    pub(crate) ended: bool,
}

impl RecordedEpisode for Recording {
    fn observer(&self) -> Option<SharedObserver> {
        Some(Arc::new(Watch(Arc::clone(&self.ctx))))
    }

    fn end(mut self: Box<Self>, world: &World, trace: &[TraceEvent]) {
        let e = &self.ctx;
        let path = match e.state.lock() {
            Ok(mut s) => {
                e.sample(&world.view(), &mut s);
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
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) images_dir: Option<PathBuf>,
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
            ctx.sample(&world.view(), &mut s);
        }
        Some(Box::new(Recording {
            ctx,
            images_dir: self.images_dir.clone(),
            ended: false,
        }))
    }
}
