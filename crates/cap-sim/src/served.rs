//! The world as the robot side of the bridge (`cap serve`): a stand-in for a real arm
//! that follows set-points one physics step at a time, closes its gripper until it
//! grips, and reports where its objects are. Motions arrive already checked by the
//! server against the limits it advertised; the world's own gate still checks the
//! gripper.

use cap_core::failure::Failure;
use cap_core::kinematics::Joints;
use cap_core::nalgebra::Isometry3;
use cap_core::robot::RobotBackend;

use crate::convert::from_pose;
use crate::world::World;

impl World {
    /// Drive the arm to `q` (at the current gripper opening) for one physics step; a
    /// held object that slips is let go. Non-finite set-points are ignored (the arm
    /// holds).
    pub fn servo(&mut self, q: &Joints) {
        let q = if q.iter().all(|v| v.is_finite()) {
            *q
        } else {
            self.q
        };
        let width = self.width_m;
        self.drive_arm(&q, width);
        self.step_physics();
        if self.held.is_some() && self.check_slip().is_some() {
            // check_slip released it; the state's grasp flag says so.
        }
    }

    /// Move the gripper to `width_m` through the world's gate: the opening reached and
    /// what it holds.
    pub fn serve_gripper(&mut self, width_m: f64) -> Result<(f64, Option<String>), Failure> {
        let cmd = self.gate.admit_gripper(width_m).map_err(Failure::from)?;
        let report = self
            .gripper_local(&cmd)
            .map_err(cap_core::robot::BackendError::into_failure)?;
        Ok((report.width_m, report.holding))
    }

    /// Every object's pose (its body frame), by name.
    pub fn object_poses(&self) -> Vec<(String, Isometry3<f64>)> {
        self.objects
            .iter()
            .zip(self.scene.objects.iter())
            .filter_map(|(o, spec)| {
                let pose = from_pose(self.bodies.get(o.body)?.position());
                Some((spec.name.clone(), pose))
            })
            .collect()
    }

    /// Whether the gripper holds something.
    pub fn is_holding(&self) -> bool {
        self.holding().is_some()
    }
}
