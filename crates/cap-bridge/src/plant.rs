//! What a bridge server drives: the [`Plant`] (the arm, its gripper and what its
//! perception reports). The server owns the protocol, the goal's interpolation, the
//! tolerances and the watchdog; a plant only follows joint set-points one control
//! period at a time. [`KinematicPlant`] follows them exactly (for tests of the link);
//! `cap serve` gives a plant that is a whole simulated world.

use crate::protocol::ObjectPose;

/// An arm a server drives, one control period at a time.
pub trait Plant: Send {
    /// Drive toward `target` (the arm's joints, rad) for one control period of `dt_s`;
    /// `None` holds where the arm is.
    fn step(&mut self, target: Option<&[f64]>, dt_s: f64);
    /// Joint positions now, rad (the arm's joints only).
    fn positions(&self) -> Vec<f64>;
    /// Joint velocities now, rad/s.
    fn velocities(&self) -> Vec<f64>;
    /// Move the gripper to `width` m (closing stops on what it grips) and wait for it:
    /// the opening reached and whether it holds something, or why it could not.
    fn gripper(&mut self, width: f64, max_effort: f64) -> Result<(f64, bool), String>;
    /// The gripper's opening (m) and whether it holds something, now.
    fn gripper_state(&self) -> (f64, bool);
    /// Object poses the arm's perception reports (empty: it perceives none).
    fn objects(&self) -> Vec<ObjectPose> {
        Vec::new()
    }
}

/// An ideal arm: it is at each set-point the moment it is commanded.
pub struct KinematicPlant {
    q: Vec<f64>,
    v: Vec<f64>,
    width: f64,
    max_width: f64,
    grasped: bool,
}

impl KinematicPlant {
    /// At `q`, with a gripper opening up to `max_width`, open.
    pub fn new(q: Vec<f64>, max_width: f64) -> Self {
        let n = q.len();
        Self {
            q,
            v: vec![0.0; n],
            width: max_width,
            max_width,
            grasped: false,
        }
    }
}

impl Plant for KinematicPlant {
    fn step(&mut self, target: Option<&[f64]>, dt_s: f64) {
        match target {
            Some(t) if t.len() == self.q.len() => {
                for ((q, v), t) in self.q.iter_mut().zip(self.v.iter_mut()).zip(t) {
                    *v = (t - *q) / dt_s.max(1e-9);
                    *q = *t;
                }
            }
            _ => self.v.iter_mut().for_each(|v| *v = 0.0),
        }
    }

    fn positions(&self) -> Vec<f64> {
        self.q.clone()
    }

    fn velocities(&self) -> Vec<f64> {
        self.v.clone()
    }

    fn gripper(&mut self, width: f64, _max_effort: f64) -> Result<(f64, bool), String> {
        self.width = width.clamp(0.0, self.max_width);
        self.grasped = false;
        Ok((self.width, self.grasped))
    }

    fn gripper_state(&self) -> (f64, bool) {
        (self.width, self.grasped)
    }
}
