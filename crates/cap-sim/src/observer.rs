//! The observer hook: something outside the physics (a recorder) hears every physics
//! step and every planned motion, through a read-only [`StepView`] of the world.

use std::sync::Arc;

use cap_core::arm::ArmKinematics;
use cap_core::kinematics::Joints;
use cap_core::nalgebra::Isometry3;
use rapier3d::prelude::RigidBodySet;

use crate::visual::{self, BodyPose, VisualBody};

/// What an observer may read of the world at a step.
pub struct StepView<'a> {
    pub(crate) step: u64,
    pub(crate) bodies: &'a RigidBodySet,
    pub(crate) kinematics: &'a ArmKinematics,
    pub(crate) q: &'a Joints,
    pub(crate) gripper_width_m: f64,
}

impl StepView<'_> {
    /// Physics steps since the start of the episode.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// The tool-centre-point pose.
    pub fn tcp(&self) -> Isometry3<f64> {
        self.kinematics.tcp(self.q)
    }

    /// The gripper opening, metres.
    pub fn gripper_opening_m(&self) -> f64 {
        self.gripper_width_m
    }

    /// The current pose of each of `visual` (see [`visual::poses`]).
    pub fn poses(&self, visual: &[VisualBody]) -> Vec<BodyPose> {
        visual::poses(self.bodies, visual)
    }

    /// Tool-centre-point positions along a joint path.
    pub fn tcp_path(&self, path: &[Joints]) -> Vec<[f32; 3]> {
        tcp_path(self.kinematics, path)
    }
}

/// Tool-centre-point positions of `kinematics` along a joint path.
pub fn tcp_path(kinematics: &ArmKinematics, path: &[Joints]) -> Vec<[f32; 3]> {
    path.iter()
        .map(|q| {
            let p = kinematics.tcp(q).translation.vector;
            [p.x as f32, p.y as f32, p.z as f32]
        })
        .collect()
}

/// Hears the world as it runs. Implementations decide how often to look (every step is
/// 240 Hz) and must be cheap when they do not.
pub trait StepObserver: Send + Sync {
    /// Called after every physics step.
    fn on_step(&self, view: &StepView<'_>);
    /// Called when the arm starts to follow a gated joint trajectory (the planned path).
    fn on_plan(&self, view: &StepView<'_>, path: &[Joints]) {
        let _ = (view, path);
    }
    /// Called when a real arm behind the world has followed a motion that began at
    /// physics step `start_step`: the commanded set-points (one per step), and the
    /// positions the arm measured (seconds since the motion was sent, its joints).
    fn on_measured(
        &self,
        view: &StepView<'_>,
        start_step: u64,
        commanded: &[Joints],
        measured: &[(f64, Vec<f64>)],
    ) {
        let _ = (view, start_step, commanded, measured);
    }
}

/// A shared observer.
pub type SharedObserver = Arc<dyn StepObserver>;
