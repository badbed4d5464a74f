//! The `[robot]` table's choice of arm: cap's built-in Panda, an arm of the catalogue
//! (`arm = "ur5"`), or a robot description of the user's own (`urdf = "..."` with the
//! chain, the TCP and the gripper spelled out).

use std::path::PathBuf;

use nalgebra::Vector3;

/// Which arm a scene's robot is.
#[derive(Debug, Clone, PartialEq)]
pub enum ArmSource {
    /// cap's built-in Panda (its DH model and capsule links); needs no files.
    Builtin,
    /// An arm of the catalogue (`cap robots` lists them), read from the data directory.
    Catalogue(String),
    /// A robot description given by the scene.
    Urdf(UrdfArm),
}

/// An arm from a URDF file.
#[derive(Debug, Clone, PartialEq)]
pub struct UrdfArm {
    /// The URDF (relative paths in the scene are resolved against the scene's folder).
    pub urdf: PathBuf,
    /// First link of the arm's chain.
    pub base_link: String,
    /// Last link of the chain (the flange or the gripper's frame).
    pub tool_link: String,
    /// The TCP in the tool link's frame, metres.
    pub tcp_m: Vector3<f64>,
    /// How it grasps.
    pub gripper: GripperSpec,
    /// Folders `package://NAME/...` URIs resolve against (each holds `NAME/`); the
    /// URDF's own folder and its parents are tried after them.
    pub packages: Vec<PathBuf>,
}

/// How an arm grasps. The simulator closes every kind as a parallel gripper of the
/// given opening at the TCP (see `cap-sim`'s robot model).
#[derive(Debug, Clone, PartialEq)]
pub enum GripperSpec {
    /// Two fingers on prismatic joints of the description.
    Fingers {
        /// The finger joints.
        joints: [String; 2],
        /// Widest opening, metres.
        max_width_m: f64,
    },
    /// One moving jaw on a revolute joint of the description, against a fixed one.
    Jaw {
        /// The jaw joint.
        joint: String,
        /// Widest opening at the fingertips, metres.
        max_width_m: f64,
    },
    /// A parallel gripper the description does not include, mounted on the tool link
    /// (as a Robotiq 2F-85 on a UR arm).
    Mounted {
        /// Widest opening, metres.
        max_width_m: f64,
    },
}

impl GripperSpec {
    /// Widest opening, metres.
    pub fn max_width_m(&self) -> f64 {
        match self {
            GripperSpec::Fingers { max_width_m, .. }
            | GripperSpec::Jaw { max_width_m, .. }
            | GripperSpec::Mounted { max_width_m } => *max_width_m,
        }
    }

    /// What it is, in a few words.
    pub fn describe(&self) -> String {
        let w = self.max_width_m() * 100.0;
        match self {
            GripperSpec::Fingers { .. } => format!("two fingers, opens {w:.1} cm"),
            GripperSpec::Jaw { .. } => format!("a jaw, opens {w:.1} cm"),
            GripperSpec::Mounted { .. } => format!("a mounted parallel gripper, opens {w:.1} cm"),
        }
    }
}
