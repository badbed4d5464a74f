//! A real arm behind a world: the interface a bridge implements so that the simulated
//! world becomes the robot's mirror. Every motion and gripper command the world admits
//! through its safety gate goes to the arm as well; the world then takes the arm's
//! measured joints, gripper and reported object poses as the truth.
//!
//! The world holds its arm in a [`RemoteSlot`], which a copy of the world never
//! shares: a fork that tries a program out can never move the robot.

use nalgebra::Isometry3;

use crate::failure::Failure;
use crate::kinematics::Joints;
use crate::robot::{GatedGripper, GatedTrajectory};

/// What the arm measured, at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// Joint positions (padded to 7 with zeros for a shorter arm), rad.
    pub q: Joints,
    /// Gripper opening, m, where the arm has a gripper it reports.
    pub gripper_width_m: Option<f64>,
    /// Whether the gripper holds something, where the arm can tell.
    pub grasped: Option<bool>,
}

/// An object pose the robot side perceives (mocap, tags, its own simulation).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedObject {
    /// Its name in the scene.
    pub name: String,
    /// Bounding-box centre and orientation, world frame.
    pub pose: Isometry3<f64>,
}

/// What one motion did on the arm.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteMotion {
    /// The arm's id for the motion.
    pub goal_id: String,
    /// Where the arm came to rest.
    pub end: Measured,
    /// Measured joint positions while it moved: seconds since the arm accepted it, and
    /// the positions (the arm's joints only).
    pub measured: Vec<(f64, Vec<f64>)>,
    /// Wall time from sending to the arm at rest, s.
    pub duration_s: f64,
    /// The largest difference between a measured position and the commanded one at the
    /// same time from the start, over the motion's joints, rad.
    pub max_tracking_error_rad: f64,
}

/// What one gripper command did on the arm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RemoteGripper {
    /// Opening after the command, m.
    pub width_m: f64,
    /// Whether it holds something.
    pub grasped: bool,
}

/// A real arm (or a stand-in for one) that a world mirrors. Each method blocks until
/// the arm has done what was asked and stopped, or fails with a typed [`Failure`]
/// (`link_lost`, `robot_error`, `estop`, `tracking_error`, `goal_refused`, ...). After
/// a failure the world sends nothing more.
pub trait RemoteArm: Send {
    /// What the arm is, for reports: its address and the name it gives itself.
    fn describe(&self) -> String;
    /// Its state now (from a state message no older than the link timeout).
    fn measured(&mut self) -> Result<Measured, Failure>;
    /// The object poses it reports now (empty when it perceives none).
    fn objects(&mut self) -> Vec<ReportedObject>;
    /// Follow `traj`, which the gate admitted from the state [`RemoteArm::measured`]
    /// returned, and wait until the arm has stopped.
    fn execute(&mut self, traj: &GatedTrajectory) -> Result<RemoteMotion, Failure>;
    /// Move the gripper and wait for it.
    fn gripper(&mut self, cmd: &GatedGripper) -> Result<RemoteGripper, Failure>;
    /// Stop whatever the arm is doing (best effort; the episode is ending).
    fn stop(&mut self);
}

/// The slot a world keeps its arm in: empty for a simulated episode. Cloning gives an
/// empty slot, so a fork of the world is simulation only.
#[derive(Default)]
pub struct RemoteSlot {
    arm: Option<Box<dyn RemoteArm>>,
    /// The failure that ended the link; every later command fails with it.
    dead: Option<Failure>,
    /// What each motion did on the arm.
    motions: Vec<RemoteMotion>,
}

impl RemoteSlot {
    /// A slot holding `arm`.
    pub fn new(arm: Box<dyn RemoteArm>) -> Self {
        Self {
            arm: Some(arm),
            dead: None,
            motions: Vec::new(),
        }
    }

    /// Whether an arm is attached (also after it failed).
    pub fn is_attached(&self) -> bool {
        self.arm.is_some()
    }

    /// The arm, unless none is attached; `Err` with the failure that ended it when it
    /// has failed before.
    pub fn arm(&mut self) -> Option<Result<&mut (dyn RemoteArm + 'static), Failure>> {
        let arm = self.arm.as_deref_mut()?;
        Some(match &self.dead {
            Some(f) => Err(f.clone()),
            None => Ok(arm),
        })
    }

    /// Run `f` on the arm; a failure ends the link (the arm is told to stop, best
    /// effort, and nothing more is sent). `None` when no arm is attached.
    pub fn with<T>(
        &mut self,
        f: impl FnOnce(&mut dyn RemoteArm) -> Result<T, Failure>,
    ) -> Option<Result<T, Failure>> {
        let out = match self.arm()? {
            Err(e) => return Some(Err(e)),
            Ok(arm) => f(arm),
        };
        if let Err(e) = &out {
            self.end(e.clone());
        }
        Some(out)
    }

    /// End the link with `failure`: the arm is told to stop (once).
    pub fn end(&mut self, failure: Failure) {
        if self.dead.is_none() {
            if let Some(arm) = self.arm.as_deref_mut() {
                arm.stop();
            }
            self.dead = Some(failure);
        }
    }

    /// The failure that ended the link, if one did.
    pub fn failure(&self) -> Option<&Failure> {
        self.dead.as_ref()
    }

    /// Keep what a motion did on the arm.
    pub fn record(&mut self, motion: RemoteMotion) {
        self.motions.push(motion);
    }

    /// What each motion did on the arm, in order.
    pub fn motions(&self) -> &[RemoteMotion] {
        &self.motions
    }

    /// What the attached arm is.
    pub fn describe(&self) -> Option<String> {
        self.arm.as_ref().map(|a| a.describe())
    }
}

impl Clone for RemoteSlot {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for RemoteSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSlot")
            .field("arm", &self.describe())
            .field("dead", &self.dead)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::FailureKind;

    struct Dummy {
        stops: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl RemoteArm for Dummy {
        fn describe(&self) -> String {
            "dummy".into()
        }
        fn measured(&mut self) -> Result<Measured, Failure> {
            Err(Failure::new(FailureKind::LinkLost, "silent"))
        }
        fn objects(&mut self) -> Vec<ReportedObject> {
            Vec::new()
        }
        fn execute(&mut self, _: &GatedTrajectory) -> Result<RemoteMotion, Failure> {
            Err(Failure::new(FailureKind::Estop, "pressed"))
        }
        fn gripper(&mut self, _: &GatedGripper) -> Result<RemoteGripper, Failure> {
            Err(Failure::new(FailureKind::Estop, "pressed"))
        }
        fn stop(&mut self) {
            self.stops.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn a_failure_ends_the_link_once_and_a_clone_is_empty() {
        let stops = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut slot = RemoteSlot::new(Box::new(Dummy {
            stops: stops.clone(),
        }));
        assert!(slot.clone().arm().is_none(), "a fork never holds the arm");
        let first = slot.with(|a| a.measured()).map(|r| r.map_err(|f| f.kind));
        assert_eq!(first, Some(Err(FailureKind::LinkLost)));
        // Every later call fails with the first failure, without reaching the arm.
        let second = slot
            .with(|a| a.objects().first().cloned().ok_or_else(unreachable_failure))
            .map(|r| r.map_err(|f| f.kind));
        assert_eq!(second, Some(Err(FailureKind::LinkLost)));
        assert_eq!(stops.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(slot.is_attached());
        assert_eq!(slot.failure().map(|f| f.kind), Some(FailureKind::LinkLost));
        assert!(RemoteSlot::default().with(|a| a.measured()).is_none());
    }

    fn unreachable_failure() -> Failure {
        Failure::new(
            FailureKind::RobotError,
            "the arm was reached after the link ended",
        )
    }
}
