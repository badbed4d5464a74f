//! Sample buffers: poses, the TCP and the gripper, kept only when they changed, sent
//! as columns (one chunk per batch).

use super::*;

/// A value is logged again only when it moved more than this (metres, quaternion
/// components): rerun shows the latest value, so a body at rest costs nothing.
pub(crate) const CHANGE_EPS: f32 = 1e-4;

/// A pose: translation and quaternion (x, y, z, w).
pub(crate) type Pose = ([f32; 3], [f32; 4]);

/// Values that can tell whether they changed.
pub(crate) trait Changed {
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
pub(crate) struct Track<T> {
    pub(crate) steps: Vec<i64>,
    pub(crate) values: Vec<T>,
    /// The last value logged (kept across the episode's batches).
    pub(crate) last: Option<T>,
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
    pub(crate) fn push(&mut self, step: i64, value: T) {
        if self.last.as_ref().is_some_and(|l| !value.changed_from(l)) {
            return;
        }
        self.last = Some(value.clone());
        self.steps.push(step);
        self.values.push(value);
    }

    /// The unsent samples (the last value stays, to compare with).
    pub(crate) fn take(&mut self) -> Self {
        Self {
            steps: std::mem::take(&mut self.steps),
            values: std::mem::take(&mut self.values),
            last: None,
        }
    }
}

/// The three timelines of rows logged at `steps` (on the recording's `step` timeline) of
/// `attempt`; `sim_time` follows from `step`.
pub(crate) fn time_columns(steps: &[i64], attempt: i64) -> [TimeColumn; 3] {
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
pub(crate) struct Samples {
    /// Per body (same order as `EpisodeCtx::bodies`).
    pub(crate) poses: Vec<Track<Pose>>,
    pub(crate) tcp: Track<Pose>,
    pub(crate) gripper: Track<f64>,
    /// Samples taken since the last batch was sent.
    pub(crate) taken: usize,
}

impl Samples {
    /// The unsent part, leaving the last values to compare with.
    pub(crate) fn take(&mut self) -> Self {
        let taken = std::mem::take(&mut self.taken);
        Self {
            poses: self.poses.iter_mut().map(Track::take).collect(),
            tcp: self.tcp.take(),
            gripper: self.gripper.take(),
            taken,
        }
    }
}

/// Send samples as columns: the poses of every body that moved and of the TCP as one
/// chunk at [`POSES`] (one row per frame and sample), the gripper as another.
/// Steps are the episode's own; `start` places them on the recording's timeline.
pub(crate) fn send_columns(
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
