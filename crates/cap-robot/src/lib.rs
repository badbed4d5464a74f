//! `cap-robot`: arms from robot descriptions.
//!
//! A URDF file is read with the `urdf-rs` crate (no XML parser of cap's own), and an
//! arm is the chain of joints from a base link to a tool link, built into a
//! [`cap_core::chain::SerialChain`] (forward kinematics, Jacobian and cap's one IK).
//! Fixed joints on the way are folded into the next moving joint; joint limits
//! (position, velocity, effort) come from the URDF. Geometry (collision and visual:
//! boxes, cylinders, spheres, capsules and meshes) is listed per link with `package://`
//! and relative mesh URIs resolved to files.
//!
//! Every failure names the URDF file and the link or joint: a malformed file, a link
//! with two parents or a loop, no path from base to tool, a joint without limits, a
//! joint type an arm cannot have (floating, planar), a mesh that is not there.

mod catalog;
mod geometry;
/// Mesh files (cap-core reads them, for robot links and scene objects alike).
pub use cap_core::mesh;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cap_core::chain::{ChainError, ChainJoint, JointKind, SerialChain};
use cap_core::nalgebra::{Isometry3, Translation3, Unit, UnitQuaternion, Vector3};

pub use catalog::{Arm, Gripper, ARMS};
pub use geometry::{LinkGeometry, Shape};
/// The URDF crate cap reads descriptions with (its types appear in [`RobotDescription::urdf`]).
pub use urdf_rs;

/// A robot description that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RobotError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The URDF.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a URDF urdf-rs reads.
    #[error("{path}: not a valid URDF: {message}")]
    Parse {
        /// The URDF.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A link or joint the description or the scene names is not there.
    #[error("{path}: no {what} `{name}` (the file has: {known})")]
    Unknown {
        /// The URDF.
        path: PathBuf,
        /// `link` or `joint`.
        what: &'static str,
        /// The name asked for.
        name: String,
        /// What there is.
        known: String,
    },
    /// The links do not form a tree: a link with two parents, or a loop.
    #[error("{path}: link `{link}`: {message}")]
    NotATree {
        /// The URDF.
        path: PathBuf,
        /// The link.
        link: String,
        /// What is wrong.
        message: String,
    },
    /// The tool link does not hang below the base link.
    #[error(
        "{path}: no chain of joints from `{base}` down to `{tool}` (`{tool}` hangs below `{root}`)"
    )]
    NoPath {
        /// The URDF.
        path: PathBuf,
        /// The base link.
        base: String,
        /// The tool link.
        tool: String,
        /// The root the tool's ancestors lead to.
        root: String,
    },
    /// A joint on the chain cannot be driven as it is described.
    #[error("{path}: joint `{joint}`: {message}")]
    Joint {
        /// The URDF.
        path: PathBuf,
        /// The joint.
        joint: String,
        /// What is wrong.
        message: String,
    },
    /// The chain is not one cap drives.
    #[error("{path}: {source}")]
    Chain {
        /// The URDF.
        path: PathBuf,
        /// Why.
        source: ChainError,
    },
    /// A mesh a link uses cannot be read or is not a solid.
    #[error("{path}: link `{link}`: {source}")]
    Mesh {
        /// The URDF.
        path: PathBuf,
        /// The link.
        link: String,
        /// Why.
        source: mesh::MeshError,
    },
    /// A mesh a link uses is not where its URI points.
    #[error("{path}: link `{link}`: mesh `{uri}` not found (looked for {tried})")]
    MissingMesh {
        /// The URDF.
        path: PathBuf,
        /// The link.
        link: String,
        /// The URI as written.
        uri: String,
        /// Where it looked.
        tried: String,
    },
}

/// A parsed robot description.
#[derive(Debug, Clone)]
pub struct RobotDescription {
    path: PathBuf,
    robot: urdf_rs::Robot,
}

/// A URDF pose as an isometry: translation `xyz`, rotation `rpy` (roll about x, then
/// pitch about y, then yaw about z, all about the fixed axes).
pub fn pose(p: &urdf_rs::Pose) -> Isometry3<f64> {
    let [x, y, z] = p.xyz.0;
    let [r, pi, ya] = p.rpy.0;
    Isometry3::from_parts(
        Translation3::new(x, y, z),
        UnitQuaternion::from_euler_angles(r, pi, ya),
    )
}

/// Read and parse the URDF at `path`.
pub fn load(path: impl AsRef<Path>) -> Result<RobotDescription, RobotError> {
    let path = path.as_ref().to_path_buf();
    let text = std::fs::read_to_string(&path).map_err(|source| RobotError::Io {
        path: path.clone(),
        source,
    })?;
    parse(&text, &path)
}

/// Parse URDF `text`; `path` names it in messages and anchors relative mesh paths.
pub fn parse(text: &str, path: &Path) -> Result<RobotDescription, RobotError> {
    let robot = urdf_rs::read_from_string(text).map_err(|e| RobotError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().replace('\n', " "),
    })?;
    let d = RobotDescription {
        path: path.to_path_buf(),
        robot,
    };
    d.check_tree()?;
    Ok(d)
}

impl RobotDescription {
    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The robot's name in the file.
    pub fn name(&self) -> &str {
        &self.robot.name
    }

    /// The parsed file.
    pub fn urdf(&self) -> &urdf_rs::Robot {
        &self.robot
    }

    fn unknown(&self, what: &'static str, name: &str) -> RobotError {
        let known: Vec<&str> = match what {
            "link" => self.robot.links.iter().map(|l| l.name.as_str()).collect(),
            _ => self.robot.joints.iter().map(|j| j.name.as_str()).collect(),
        };
        RobotError::Unknown {
            path: self.path.clone(),
            what,
            name: name.to_owned(),
            known: known.join(", "),
        }
    }

    /// Every joint's parent and child must be a link; no link has two parents.
    fn check_tree(&self) -> Result<(), RobotError> {
        let links: std::collections::BTreeSet<&str> =
            self.robot.links.iter().map(|l| l.name.as_str()).collect();
        let mut parent_of: BTreeMap<&str, &str> = BTreeMap::new();
        for j in &self.robot.joints {
            for l in [&j.parent.link, &j.child.link] {
                if !links.contains(l.as_str()) {
                    return Err(RobotError::Joint {
                        path: self.path.clone(),
                        joint: j.name.clone(),
                        message: format!("connects link `{l}`, which the file does not define"),
                    });
                }
            }
            if let Some(first) = parent_of.insert(&j.child.link, &j.name) {
                return Err(RobotError::NotATree {
                    path: self.path.clone(),
                    link: j.child.link.clone(),
                    message: format!("is the child of two joints (`{first}` and `{}`)", j.name),
                });
            }
        }
        Ok(())
    }

    /// The joints from `base` down to `tool`, in that order.
    fn path_between(&self, base: &str, tool: &str) -> Result<Vec<&urdf_rs::Joint>, RobotError> {
        for l in [base, tool] {
            if !self.robot.links.iter().any(|k| k.name == l) {
                return Err(self.unknown("link", l));
            }
        }
        let mut up = Vec::new();
        let mut at = tool;
        let mut seen = std::collections::BTreeSet::new();
        while at != base {
            if !seen.insert(at) {
                return Err(RobotError::NotATree {
                    path: self.path.clone(),
                    link: at.to_owned(),
                    message: "is its own ancestor (the joints form a loop)".into(),
                });
            }
            match self.robot.joints.iter().find(|j| j.child.link == at) {
                Some(j) => {
                    up.push(j);
                    at = &j.parent.link;
                }
                None => {
                    return Err(RobotError::NoPath {
                        path: self.path.clone(),
                        base: base.to_owned(),
                        tool: tool.to_owned(),
                        root: at.to_owned(),
                    })
                }
            }
        }
        up.reverse();
        Ok(up)
    }

    /// The arm from link `base` to link `tool`, its TCP at `tcp` in the tool link's
    /// frame, its base placed at `world_from_base`.
    pub fn chain(
        &self,
        base: &str,
        tool: &str,
        tcp: Isometry3<f64>,
        world_from_base: Isometry3<f64>,
    ) -> Result<SerialChain, RobotError> {
        let bad = |j: &urdf_rs::Joint, message: String| RobotError::Joint {
            path: self.path.clone(),
            joint: j.name.clone(),
            message,
        };
        let mut joints = Vec::new();
        // Fixed joints since the last moving one (folded into the next).
        let mut pending = Isometry3::identity();
        for j in self.path_between(base, tool)? {
            let origin = pose(&j.origin);
            let kind = match j.joint_type {
                urdf_rs::JointType::Fixed => {
                    pending *= origin;
                    continue;
                }
                urdf_rs::JointType::Revolute | urdf_rs::JointType::Continuous => {
                    JointKind::Revolute
                }
                urdf_rs::JointType::Prismatic => JointKind::Prismatic,
                ref other => {
                    return Err(bad(
                        j,
                        format!("a {other:?} joint cannot be part of an arm"),
                    ));
                }
            };
            let axis = Vector3::from(j.axis.xyz.0);
            let axis = Unit::try_new(axis, 1e-9)
                .filter(|a| a.iter().all(|v| v.is_finite()))
                .ok_or_else(|| bad(j, format!("its axis {:?} has no direction", j.axis.xyz.0)))?;
            let l = &j.limit;
            let (lower, upper) = if j.joint_type == urdf_rs::JointType::Continuous {
                (-2.0 * std::f64::consts::PI, 2.0 * std::f64::consts::PI)
            } else if l.lower.is_finite() && l.upper.is_finite() && l.lower < l.upper {
                (l.lower, l.upper)
            } else {
                return Err(bad(
                    j,
                    format!(
                        "no position limits (<limit lower=.. upper=..>; got [{}, {}])",
                        l.lower, l.upper
                    ),
                ));
            };
            if !(l.velocity.is_finite() && l.velocity > 0.0) {
                return Err(bad(
                    j,
                    format!(
                        "no velocity limit (<limit velocity=..>; got {})",
                        l.velocity
                    ),
                ));
            }
            joints.push(ChainJoint {
                name: j.name.clone(),
                kind,
                origin: pending * origin,
                axis,
                lower,
                upper,
                velocity: l.velocity,
                effort: if l.effort.is_finite() { l.effort } else { 0.0 },
            });
            pending = Isometry3::identity();
        }
        SerialChain::new(world_from_base, joints, pending * tcp).map_err(|source| {
            RobotError::Chain {
                path: self.path.clone(),
                source,
            }
        })
    }

    /// A joint by name (for grippers: the finger joints).
    pub fn joint(&self, name: &str) -> Result<&urdf_rs::Joint, RobotError> {
        self.robot
            .joints
            .iter()
            .find(|j| j.name == name)
            .ok_or_else(|| self.unknown("joint", name))
    }
}

#[cfg(test)]
mod tests;
