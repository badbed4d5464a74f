//! The arms cap ships scenes for, as third-party descriptions fetched into the data
//! directory by `scripts/fetch-robots.sh` (PyPI `example-robot-data==6.0.0`,
//! BSD-3-Clause): which file, which chain, where the TCP is, which gripper.

use std::path::{Path, PathBuf};

use cap_core::chain::SerialChain;
use cap_core::nalgebra::Isometry3;
use cap_core::scene::GripperSpec;

use crate::{load, RobotDescription, RobotError};

/// How an arm grasps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gripper {
    /// Two fingers on prismatic joints of the description (each 0..max/2).
    Fingers {
        /// The finger joints.
        joints: [&'static str; 2],
        /// Widest opening, m.
        max_width_m: f64,
    },
    /// One moving jaw on a revolute joint of the description, against a fixed one.
    Jaw {
        /// The jaw joint.
        joint: &'static str,
        /// Widest opening at the fingertips, m.
        max_width_m: f64,
    },
    /// A parallel gripper the description does not include, mounted on the tool link
    /// (as a Robotiq 2F-85 on a UR arm): its opening and length.
    Mounted {
        /// Widest opening, m.
        max_width_m: f64,
        /// Flange to fingertip centre, m (part of the TCP offset).
        length_m: f64,
    },
}

impl Gripper {
    /// The same gripper as a scene would describe it.
    pub fn spec(&self) -> GripperSpec {
        match *self {
            Gripper::Fingers {
                joints: [a, b],
                max_width_m,
            } => GripperSpec::Fingers {
                joints: [a.to_owned(), b.to_owned()],
                max_width_m,
            },
            Gripper::Jaw { joint, max_width_m } => GripperSpec::Jaw {
                joint: joint.to_owned(),
                max_width_m,
            },
            Gripper::Mounted { max_width_m, .. } => GripperSpec::Mounted { max_width_m },
        }
    }

    /// Widest opening, m.
    pub fn max_width_m(&self) -> f64 {
        match self {
            Gripper::Fingers { max_width_m, .. }
            | Gripper::Jaw { max_width_m, .. }
            | Gripper::Mounted { max_width_m, .. } => *max_width_m,
        }
    }
}

/// An arm of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arm {
    /// cap's name for it (`[robot] arm = "ur5"`).
    pub name: &'static str,
    /// What it is.
    pub about: &'static str,
    /// The URDF, relative to the data directory.
    pub urdf: &'static str,
    /// The chain's base link.
    pub base: &'static str,
    /// The chain's tool link.
    pub tool: &'static str,
    /// The TCP in the tool link's frame (translation, m).
    pub tcp_m: [f64; 3],
    /// Its gripper.
    pub gripper: Gripper,
}

const ERD: &str = "robots/example-robot-data/robots";

/// The arms cap ships scenes for.
pub const ARMS: [Arm; 4] = [
    Arm {
        name: "panda",
        about: "Franka Emika Panda, 7 joints, two-finger hand",
        urdf: "panda_description/urdf/panda.urdf",
        base: "panda_link0",
        tool: "panda_hand_tcp",
        tcp_m: [0.0, 0.0, 0.0],
        gripper: Gripper::Fingers {
            joints: ["panda_finger_joint1", "panda_finger_joint2"],
            max_width_m: 0.08,
        },
    },
    Arm {
        name: "ur5",
        about: "Universal Robots UR5 (Code as Policies' arm), 6 joints, a mounted 85 mm parallel gripper",
        urdf: "ur_description/urdf/ur5_robot.urdf",
        base: "base_link",
        tool: "tool0",
        tcp_m: [0.0, 0.0, 0.15],
        gripper: Gripper::Mounted {
            max_width_m: 0.085,
            length_m: 0.15,
        },
    },
    Arm {
        name: "so101",
        about: "LeRobot SO-101, 5 joints and a jaw",
        urdf: "so_arm_description/urdf/so101.urdf",
        base: "base_link",
        tool: "gripper_frame_link",
        tcp_m: [0.0, 0.0, 0.0],
        gripper: Gripper::Jaw {
            joint: "gripper",
            max_width_m: 0.07,
        },
    },
    Arm {
        name: "xarm7",
        about: "UFACTORY xArm7, 7 joints, a mounted 85 mm parallel gripper",
        urdf: "xarm_description/urdf/xarm7.urdf",
        base: "link_base",
        tool: "link_eef",
        tcp_m: [0.0, 0.0, 0.17],
        gripper: Gripper::Mounted {
            max_width_m: 0.085,
            length_m: 0.17,
        },
    },
];

impl Arm {
    /// The catalogue's arm called `name`.
    pub fn named(name: &str) -> Option<&'static Arm> {
        ARMS.iter().find(|a| a.name == name)
    }

    /// Its URDF under the data directory `data`.
    pub fn urdf_path(&self, data: &Path) -> PathBuf {
        data.join(ERD).join(self.urdf)
    }

    /// The package root its mesh URIs resolve against.
    pub fn package_root(&self, data: &Path) -> PathBuf {
        data.join("robots/example-robot-data")
    }

    /// Load its description and build its chain, based at `world_from_base`.
    pub fn load(
        &self,
        data: &Path,
        world_from_base: Isometry3<f64>,
    ) -> Result<(RobotDescription, SerialChain), RobotError> {
        let d = load(self.urdf_path(data))?;
        let [x, y, z] = self.tcp_m;
        let chain = d.chain(
            self.base,
            self.tool,
            Isometry3::translation(x, y, z),
            world_from_base,
        )?;
        Ok((d, chain))
    }
}
