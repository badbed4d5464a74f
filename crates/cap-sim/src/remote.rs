//! The world as a real arm's mirror ([`cap_core::remote`]). With an arm attached, each
//! admitted motion and gripper command goes to the arm first; the simulation then
//! follows the same motion (so what the arm holds moves with the hand in the mirror
//! and the recording shows it) and is corrected to what the arm measured: its joints,
//! its gripper, whether it holds something, and the object poses it reports. Before
//! each primitive plans, the mirror takes the arm's latest state and objects, so a
//! program's queries and grasps see the robot's world.
//!
//! A fork of the world (a program tried out in simulation) never carries the arm.

use cap_core::failure::{Failure, FailureKind};
use std::sync::Arc;

use cap_core::kinematics::{Joints, DOF};
use cap_core::nalgebra::Isometry3;
use cap_core::remote::{Measured, RemoteArm, RemoteMotion, ReportedObject};
use cap_core::robot::{
    BackendError, DynamicLimits, GatedGripper, GatedTrajectory, GripperReport, MotionReport,
    RobotBackend, SafetyGate,
};
use rapier3d::prelude::Vector;

use crate::convert::{from_pose, to_pose};
use crate::world::World;

/// How far from the tool centre point an object may be for the mirror to take it as
/// the one the arm reports holding, m.
const HELD_RADIUS_M: f64 = 0.06;

impl World {
    /// Mirror `arm` from now on: every command this world admits goes to it. Start
    /// the world from the arm's state first ([`World::adopt_measured`]).
    pub fn attach_remote(&mut self, arm: Box<dyn RemoteArm>) {
        self.remote = cap_core::remote::RemoteSlot::new(arm);
    }

    /// Keep motions within a real arm's own limits as well as the scene arm's: the
    /// tighter of each position and velocity limit, and the arm's acceleration and
    /// jerk limits with the start-state check (which also makes the planner time
    /// motions with a quintic profile). Set it on the world that tries the program in
    /// simulation too, so both plan the same motions.
    pub fn bound_by_robot(
        &mut self,
        q_min: &Joints,
        q_max: &Joints,
        v_max: &Joints,
        dynamics: DynamicLimits,
    ) {
        let mut l = *self.gate.limits();
        for j in 0..DOF {
            l.q_min[j] = l.q_min[j].max(q_min[j]);
            l.q_max[j] = l.q_max[j].min(q_max[j]);
            if v_max[j] > 0.0 {
                l.v_max_rad_s[j] = l.v_max_rad_s[j].min(v_max[j]);
            }
        }
        l.dynamics = Some(dynamics);
        self.gate = SafetyGate::new(l, Arc::clone(&self.kinematics));
    }

    /// Whether this world mirrors a real arm.
    pub fn is_remote(&self) -> bool {
        self.remote.is_attached()
    }

    /// The failure that ended the link to the arm, if one did.
    pub fn remote_failure(&self) -> Option<&Failure> {
        self.remote.failure()
    }

    /// What each motion did on the arm, in order.
    pub fn remote_motions(&self) -> &[RemoteMotion] {
        self.remote.motions()
    }

    /// Tell the arm to stop, and send nothing more (an episode ending early).
    pub fn end_remote(&mut self, failure: Failure) {
        self.remote.end(failure);
    }

    /// Put the arm where `measured` says and each of `objects` where it is reported,
    /// at rest. An object the scene does not have is an error naming it.
    pub fn adopt_measured(
        &mut self,
        measured: &Measured,
        objects: &[ReportedObject],
    ) -> Result<(), Failure> {
        if !measured.q.iter().all(|v| v.is_finite()) {
            return Err(Failure::new(
                FailureKind::RobotError,
                "the robot reported non-finite joint positions",
            ));
        }
        let width = measured.gripper_width_m.unwrap_or(self.width_m);
        self.drive_arm(
            &measured.q,
            width.clamp(0.0, self.robot.gripper_max_width_m()),
        );
        for o in objects {
            let Some(i) = self.object_index(&o.name) else {
                let known: Vec<&str> = self.scene.objects.iter().map(|o| o.name.as_str()).collect();
                return Err(Failure::with_object(
                    FailureKind::RobotError,
                    format!(
                        "the robot reports an object `{}` the scene does not have (scene objects: {})",
                        o.name,
                        known.join(", ")
                    ),
                    o.name.clone(),
                ));
            };
            self.set_object_pose(i, &o.pose);
        }
        // Kinematic bodies reach their poses on the next step.
        self.step_physics();
        Ok(())
    }

    /// Put object `i` at `pose`, at rest, unless the hand holds it.
    pub(crate) fn set_object_pose(&mut self, i: usize, pose: &Isometry3<f64>) {
        if self.held.as_ref().is_some_and(|h| h.object == i) {
            return;
        }
        if !(pose.translation.vector.iter().all(|v| v.is_finite())
            && pose.rotation.coords.iter().all(|v| v.is_finite()))
        {
            return;
        }
        if let Some(b) = self.bodies.get_mut(self.objects[i].body) {
            b.set_position(to_pose(pose), true);
            b.set_linvel(Vector::ZERO, true);
            b.set_angvel(Vector::ZERO, true);
        }
    }

    /// After the simulation settled: give the robot's world the same time to come to
    /// rest (wall time, at most a second), then take its state and objects, so what is
    /// judged at the end is what the robot reports. A link that has failed is left
    /// alone.
    pub(crate) fn settle_remote(&mut self, secs: f64) {
        if self.remote.failure().is_some() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_secs_f64(secs.clamp(0.0, 1.0)));
        if self.refresh_from_robot().is_err() {
            // The failure is kept in the slot; the report shows it.
        }
    }

    /// Take the arm's latest state and reported objects into the mirror (nothing
    /// without an arm). Fails once the link has failed.
    pub(crate) fn refresh_from_robot(&mut self) -> Result<(), Failure> {
        let Some(got) = self.remote.with(|arm| Ok((arm.measured()?, arm.objects()))) else {
            return Ok(());
        };
        let (measured, objects) = got?;
        self.correct(&measured, &objects, true)
    }

    /// The arm's joints now, to check a motion's start against (`None` without an arm).
    pub(crate) fn remote_start(&mut self) -> Option<Result<Joints, Failure>> {
        self.remote
            .with(|arm| arm.measured())
            .map(|r| r.map(|m| m.q))
    }

    /// Correct the mirror to `measured` and `objects`: gripper, what is held, and (if
    /// `adopt_joints`) the joints. Right after a motion the mirror keeps the joints the
    /// motion ended at, so that the next motion planned from there is checked against
    /// where the robot says it is (the gate's start-state check); each primitive adopts
    /// the measured joints before it plans.
    fn correct(
        &mut self,
        measured: &Measured,
        objects: &[ReportedObject],
        adopt_joints: bool,
    ) -> Result<(), Failure> {
        if !measured.q.iter().all(|v| v.is_finite()) {
            let f = Failure::new(
                FailureKind::RobotError,
                "the robot reported non-finite joint positions",
            );
            self.remote.end(f.clone());
            return Err(f);
        }
        let width = measured
            .gripper_width_m
            .unwrap_or(self.width_m)
            .clamp(0.0, self.robot.gripper_max_width_m());
        let q = if adopt_joints { measured.q } else { self.q };
        self.drive_arm(&q, width);
        for o in objects {
            if let Some(i) = self.object_index(&o.name) {
                self.set_object_pose(i, &o.pose);
            }
        }
        if measured.grasped == Some(false) && self.held.is_some() {
            self.release();
        }
        self.step_physics();
        Ok(())
    }

    /// Send an admitted motion to the arm, then follow it in the mirror and correct the
    /// mirror to where the arm stopped.
    pub(crate) fn execute_remote(
        &mut self,
        traj: &GatedTrajectory,
    ) -> Result<MotionReport, BackendError> {
        let start_step = self.steps();
        let Some(sent) = self.remote.with(|arm| arm.execute(traj)) else {
            return self.follow(traj, true);
        };
        let motion = sent.map_err(BackendError::Remote)?;
        let was_holding = self.holding();
        let mut report = self.follow(traj, false)?;
        let objects = self
            .remote
            .with(|arm| Ok(arm.objects()))
            .unwrap_or(Ok(Vec::new()));
        let objects = objects.map_err(BackendError::Remote)?;
        self.correct(&motion.end, &objects, false)
            .map_err(BackendError::Remote)?;
        if let Some(o) = &self.observer {
            o.on_measured(&self.view(), start_step, traj.points(), &motion.measured);
        }
        if let (Some(name), Some(false)) = (&was_holding, motion.end.grasped) {
            report.stopped = Some(Failure::with_object(
                FailureKind::Slipped,
                format!("{name} slipped out of the robot's gripper during the motion (it reports no grasp)"),
                name.clone(),
            ));
        }
        self.remote.record(motion);
        Ok(report)
    }

    /// Move the arm's gripper, then the mirror's, and agree on what is held: the arm's
    /// grasp flag decides; the object the mirror takes as held is the one its own
    /// fingers closed on, else the one nearest the tool centre point.
    pub(crate) fn gripper_remote(
        &mut self,
        cmd: &GatedGripper,
    ) -> Result<GripperReport, BackendError> {
        let Some(sent) = self.remote.with(|arm| arm.gripper(cmd)) else {
            return self.gripper_local(cmd);
        };
        let done = sent.map_err(BackendError::Remote)?;
        let mut report = self.gripper_local(cmd)?;
        match (done.grasped, self.held.is_some()) {
            (false, true) => {
                self.release();
            }
            (true, false) => {
                if let Some(i) = self.nearest_object_to_tcp(HELD_RADIUS_M) {
                    self.attach(i);
                }
            }
            _ => {}
        }
        let q = self.q;
        self.drive_arm(
            &q,
            done.width_m.clamp(0.0, self.robot.gripper_max_width_m()),
        );
        self.step_physics();
        report.width_m = self.width_m;
        report.holding = self.holding();
        if done.grasped && report.holding.is_none() {
            return Err(BackendError::Remote(Failure::new(
                FailureKind::RobotError,
                format!(
                    "the robot reports a grasp, but no scene object is within {:.0} cm of the gripper",
                    HELD_RADIUS_M * 100.0
                ),
            )));
        }
        Ok(report)
    }

    fn nearest_object_to_tcp(&self, radius_m: f64) -> Option<usize> {
        let tcp = self.tcp().translation.vector;
        self.objects
            .iter()
            .enumerate()
            .filter_map(|(i, o)| {
                let p = from_pose(self.bodies.get(o.body)?.position())
                    .translation
                    .vector;
                let d = (p - tcp).norm();
                (d <= radius_m).then_some((i, d))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    }
}
