//! `cap-core`: the types every other cap crate shares.
//!
//! Scene specifications (strictly validated TOML), the trace and failure taxonomy,
//! Franka-Panda-like kinematics with a damped-least-squares IK, and the robot-backend
//! interface with the safety gate every motion command must pass. No heavy
//! dependencies live here: nalgebra, serde and thiserror only.

pub mod arm;
pub mod chain;
pub mod failure;
pub mod ik;
pub mod kinematics;
pub mod math;
pub mod mesh;
pub mod paths;
pub mod remote;
pub mod robot;
pub mod scene;
pub mod selection;
pub mod trace;
pub mod vocabulary;

/// Re-exported so downstream crates and examples never pin their own nalgebra.
pub extern crate nalgebra;

/// The handful of names most users of `cap-core` need.
pub mod prelude {
    pub use crate::failure::{Failure, FailureKind};
    pub use crate::kinematics::{Joints, Panda, DOF};
    pub use crate::robot::{GatedTrajectory, RobotBackend, SafetyGate, SafetyLimits};
    pub use crate::scene::{ObjectKind, ObjectSpec, Scene, SceneError, TaskSpec};
    pub use crate::trace::{EventKind, TraceEvent};
    pub use nalgebra::{Isometry3, Point3, UnitQuaternion, Vector3};
}
