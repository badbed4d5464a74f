//! The robot a world drives: its kinematics ([`ArmKinematics`]), its collision parts
//! riding on the kinematic frames, its gripper and its reach. One model for every arm:
//! cap's built-in Panda (DH kinematics, capsule links) or an arm read from a URDF
//! (an arm of the catalogue, or the scene's own), whose links' collision geometry
//! becomes the parts.
//!
//! Every gripper is simulated as cap's parallel gripper: a palm and two pads at the
//! TCP, closing along the TCP's y axis, opening as wide as the arm's gripper does. The
//! description's own finger or jaw links (and, for a jaw, the link it hinges on) are
//! left out of the collision model, because their joints are not driven. A URDF arm's
//! links ride on the frames of the joints that move them; links fixed to the base
//! link become fixed bodies.
//!
//! Loading reads the URDF and its meshes, hulls them and measures the reach band with
//! the IK (about a second for a 6-joint arm), so [`Robot::for_scene`] keeps what it
//! built for the rest of the process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use cap_core::arm::{ArmError, ArmKinematics};
use cap_core::kinematics::{top_down, IkOptions};
use cap_core::nalgebra::{Isometry3, Point3, Translation3, Vector3};
use cap_core::robot::GRIPPER_MAX_WIDTH_M;
use cap_core::scene::{ArmSource, GripperSpec, RobotSpec};
use cap_robot::{RobotDescription, RobotError};
use rapier3d::prelude::SharedShape;

use crate::geometry::{arm_parts, gripper_parts, ArmPart, PartFrame, HAND_ACROSS_FINGERS_M};
use crate::link_shapes::link_shapes;
use crate::robot_visual::{VisualMesh, VisualSource};

/// The band of heights (above the base) the reach radii hold for: a grasp of a small
/// object at the bottom, the approach above a tall one at the top.
pub const REACH_LOW_Z_M: f64 = 0.02;
/// Top of the band.
pub const REACH_HIGH_Z_M: f64 = 0.20;
/// Wrist yaws tried when asking whether a point is reachable at all.
pub(crate) const YAWS: [f64; 6] = [
    0.0,
    std::f64::consts::FRAC_PI_2,
    -std::f64::consts::FRAC_PI_2,
    std::f64::consts::FRAC_PI_4,
    -std::f64::consts::FRAC_PI_4,
    std::f64::consts::PI,
];

/// The built-in Panda's band, as [`measure_reach_band`] finds it (rounded to the
/// millimetre, inward); the test `the_panda_reach_band_is_what_the_ik_measures`
/// measures it anew.
pub const PANDA_REACH: ReachBand = ReachBand {
    min_radius_m: 0.231,
    max_radius_m: 0.800,
    top_z_m: REACH_HIGH_Z_M,
};

/// A robot that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RobotLoadError {
    /// The scene names an arm the catalogue does not have.
    #[error(
        "no arm `{name}` in the catalogue (it has: builtin, {known}; `cap robots` describes them)"
    )]
    UnknownArm {
        /// The name.
        name: String,
        /// The catalogue's names.
        known: String,
    },
    /// A catalogue arm's files are not in the data directory.
    #[error("{path} is missing: the catalogue's arms come from PyPI's example-robot-data, fetched by `bash scripts/fetch-robots.sh` (setup.sh runs it)")]
    NotFetched {
        /// The URDF looked for.
        path: PathBuf,
    },
    /// The description is unusable (names the file and the link or joint).
    #[error(transparent)]
    Description(#[from] RobotError),
    /// The chain cannot be driven as asked.
    #[error("{path}: {source}")]
    Arm {
        /// The URDF.
        path: PathBuf,
        /// Why.
        source: ArmError,
    },
    /// The reach band could not be measured.
    #[error("{path}: the tool cannot point straight down anywhere from {REACH_LOW_Z_M} m to 0.06 m above the base, so there is no table it can work on")]
    NoReach {
        /// The URDF.
        path: PathBuf,
    },
}

/// A robot a world drives.
pub struct Robot {
    name: String,
    about: String,
    kinematics: Arc<ArmKinematics>,
    parts: Arc<Vec<ArmPart>>,
    fixed: Vec<(String, Isometry3<f64>, SharedShape)>,
    gripper: GripperSpec,
    palm_across_m: f64,
    reach: ReachBand,
    source: Option<PathBuf>,
    visual_sources: Vec<VisualSource>,
    visuals: OnceLock<Vec<VisualMesh>>,
}

impl std::fmt::Debug for Robot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Robot")
            .field("name", &self.name)
            .field("dof", &self.kinematics.dof())
            .field("parts", &self.parts.len())
            .field("gripper", &self.gripper)
            .field("reach", &self.reach)
            .finish_non_exhaustive()
    }
}

impl PartialEq for RobotLoadError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Robot {
    /// cap's built-in Panda with its base at `world_from_base`.
    pub fn builtin(world_from_base: Isometry3<f64>) -> Self {
        Self {
            name: "builtin".into(),
            about:
                "cap's built-in Franka Panda (DH kinematics, capsule links), 7 joints, two fingers"
                    .into(),
            kinematics: Arc::new(ArmKinematics::panda(world_from_base)),
            parts: Arc::new(arm_parts()),
            fixed: Vec::new(),
            gripper: GripperSpec::Fingers {
                joints: ["finger_left".into(), "finger_right".into()],
                max_width_m: GRIPPER_MAX_WIDTH_M,
            },
            palm_across_m: HAND_ACROSS_FINGERS_M,
            reach: PANDA_REACH,
            source: None,
            visual_sources: Vec::new(),
            visuals: OnceLock::new(),
        }
    }

    /// The robot of a scene's `[robot]` table, built once per process for each
    /// distinct table. `data` is cap's data directory (the catalogue's files).
    pub fn for_scene(spec: &RobotSpec, data: &Path) -> Result<Arc<Robot>, RobotLoadError> {
        static CACHE: OnceLock<Mutex<BTreeMap<String, Arc<Robot>>>> = OnceLock::new();
        let key = format!("{:?}|{}", spec_key(spec), data.display());
        let cache = CACHE.get_or_init(|| Mutex::new(BTreeMap::new()));
        if let Some(r) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(r.clone());
        }
        let robot = Arc::new(Self::load(spec, data)?);
        cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, robot.clone());
        Ok(robot)
    }

    /// Build the robot of `spec` (no cache).
    pub fn load(spec: &RobotSpec, data: &Path) -> Result<Robot, RobotLoadError> {
        let base = base_pose(spec);
        match &spec.arm {
            ArmSource::Builtin => Ok(Self::builtin(base)),
            ArmSource::Catalogue(name) => {
                let arm =
                    cap_robot::Arm::named(name).ok_or_else(|| RobotLoadError::UnknownArm {
                        name: name.clone(),
                        known: cap_robot::ARMS
                            .iter()
                            .map(|a| a.name)
                            .collect::<Vec<_>>()
                            .join(", "),
                    })?;
                let path = arm.urdf_path(data);
                if !path.is_file() {
                    return Err(RobotLoadError::NotFetched { path });
                }
                let desc = cap_robot::load(&path)?;
                let [x, y, z] = arm.tcp_m;
                Self::from_description(
                    arm.name,
                    arm.about,
                    &desc,
                    &Chosen {
                        base_link: arm.base,
                        tool_link: arm.tool,
                        tcp: Isometry3::translation(x, y, z),
                        gripper: arm.gripper.spec(),
                        packages: vec![arm.package_root(data)],
                        home: spec.home.as_deref(),
                    },
                    base,
                )
            }
            ArmSource::Urdf(u) => {
                let desc = cap_robot::load(&u.urdf)?;
                let about = format!("{} from {}", desc.name(), u.urdf.display());
                let tcp = Isometry3::translation(u.tcp_m.x, u.tcp_m.y, u.tcp_m.z);
                Self::from_description(
                    desc.name().to_owned().as_str(),
                    &about,
                    &desc,
                    &Chosen {
                        base_link: &u.base_link,
                        tool_link: &u.tool_link,
                        tcp,
                        gripper: u.gripper.clone(),
                        packages: u.packages.clone(),
                        home: spec.home.as_deref(),
                    },
                    base,
                )
            }
        }
    }

    fn from_description(
        name: &str,
        about: &str,
        desc: &RobotDescription,
        c: &Chosen<'_>,
        world_from_base: Isometry3<f64>,
    ) -> Result<Robot, RobotLoadError> {
        let path = desc.path().to_path_buf();
        let chain = desc.chain(c.base_link, c.tool_link, c.tcp, world_from_base)?;
        let gripper_links = gripper_links(desc, &c.gripper)?;
        let kinematics =
            ArmKinematics::chain(chain, c.home).map_err(|source| RobotLoadError::Arm {
                path: path.clone(),
                source,
            })?;
        let shapes = link_shapes(desc, &c.packages)?;
        let moving: Vec<&str> = kinematics
            .joint_names()
            .iter()
            .map(String::as_str)
            .collect();
        let mut parts = Vec::new();
        let mut fixed = Vec::new();
        for s in &shapes {
            if gripper_links.contains(&s.link) {
                continue;
            }
            match carrier(desc, &s.link, c.base_link, &moving) {
                Some(Carrier::Joint(i, local)) => parts.push(ArmPart {
                    name: s.link.clone(),
                    frame: PartFrame::Joint(i),
                    local,
                    shape: s.shape.clone(),
                }),
                Some(Carrier::Base(local)) => fixed.push((s.link.clone(), local, s.shape.clone())),
                None => {}
            }
        }
        let with_parts: Vec<&str> = shapes.iter().map(|s| s.link.as_str()).collect();
        let visual_sources = visual_sources(desc, c, &moving, &gripper_links, &with_parts)?;
        let palm_across_m = c.gripper.max_width_m() + 0.04;
        parts.extend(gripper_parts(palm_across_m));
        let kinematics = Arc::new(kinematics);
        let reach = measure_reach_band(&kinematics)
            .ok_or_else(|| RobotLoadError::NoReach { path: path.clone() })?;
        Ok(Robot {
            name: name.to_owned(),
            about: about.to_owned(),
            kinematics,
            parts: Arc::new(parts),
            fixed,
            gripper: c.gripper.clone(),
            palm_across_m,
            reach,
            source: Some(path),
            visual_sources,
            visuals: OnceLock::new(),
        })
    }

    /// Its name (`builtin`, a catalogue name, or the URDF's robot name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it is, in a line.
    pub fn about(&self) -> &str {
        &self.about
    }

    /// Its kinematics and limits.
    pub fn kinematics(&self) -> &Arc<ArmKinematics> {
        &self.kinematics
    }

    /// Its moving collision parts.
    pub fn parts(&self) -> &Arc<Vec<ArmPart>> {
        &self.parts
    }

    /// Links fixed to the base: name, pose in the base frame, shape.
    pub fn fixed_parts(&self) -> &[(String, Isometry3<f64>, SharedShape)] {
        &self.fixed
    }

    /// Its gripper.
    pub fn gripper(&self) -> &GripperSpec {
        &self.gripper
    }

    /// Widest opening, metres.
    pub fn gripper_max_width_m(&self) -> f64 {
        self.gripper.max_width_m()
    }

    /// The palm's extent along the closing axis: what must be clear beside a grasp.
    pub fn palm_across_m(&self) -> f64 {
        self.palm_across_m
    }

    /// Where the tool reaches straight down (measured once, with the IK).
    pub fn reach_band(&self) -> ReachBand {
        self.reach
    }

    /// The URDF it was read from (none for the built-in arm).
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// The description's visual meshes, per viewer entity (read on first call; none
    /// for the built-in arm). See [`crate::robot_visual`].
    pub fn visual_meshes(&self) -> &[VisualMesh] {
        self.visuals
            .get_or_init(|| crate::robot_visual::load(&self.visual_sources))
    }

    /// Whether this is cap's built-in Panda.
    pub fn is_builtin(&self) -> bool {
        self.source.is_none()
    }
}

/// Where each visual mesh of the arm's links goes: the entity of the body that carries
/// the link (a link without a collision part has no body, and is left out with the
/// gripper's own links), the mesh's pose in that body's frame.
fn visual_sources(
    desc: &RobotDescription,
    c: &Chosen<'_>,
    moving: &[&str],
    gripper_links: &[String],
    with_parts: &[&str],
) -> Result<Vec<VisualSource>, RobotError> {
    let mut out = Vec::new();
    for g in desc.geometry(&c.packages)? {
        let cap_robot::Shape::Mesh { path, scale } = &g.shape else {
            continue;
        };
        if !g.visual || gripper_links.contains(&g.link) {
            continue;
        }
        let (entity, body_from_link) = match carrier(desc, &g.link, c.base_link, moving) {
            Some(Carrier::Joint(..)) if with_parts.contains(&g.link.as_str()) => {
                (format!("robot/{}", g.link), Isometry3::identity())
            }
            Some(Carrier::Base(local)) => ("robot/base".to_owned(), local),
            _ => continue,
        };
        let rgb = g.rgba.map_or([225, 225, 230], |c| {
            [c[0], c[1], c[2]].map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        });
        out.push(VisualSource {
            entity,
            body_from_mesh: body_from_link * g.origin,
            file: path.clone(),
            scale: *scale,
            rgb,
        });
    }
    Ok(out)
}

/// What a scene or the catalogue chose of a description.
struct Chosen<'a> {
    base_link: &'a str,
    tool_link: &'a str,
    tcp: Isometry3<f64>,
    gripper: GripperSpec,
    packages: Vec<PathBuf>,
    home: Option<&'a [f64]>,
}

/// What identifies a robot for the cache: everything of the table but the workspace
/// box and the speed.
fn spec_key(spec: &RobotSpec) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}",
        spec.arm, spec.base_m, spec.base_yaw_rad, spec.home
    )
}

/// Where a scene's robot base sits.
pub fn base_pose(spec: &RobotSpec) -> Isometry3<f64> {
    let b = spec.base_m;
    let t = Isometry3::translation(b.x, b.y, b.z);
    if spec.base_yaw_rad == 0.0 {
        // The built-in arm's golden trace was minted with a pure translation.
        t
    } else {
        t * crate::geometry::yaw(spec.base_yaw_rad)
    }
}

/// The links of the description that belong to its own gripper (left out of the
/// collision model): the finger links, or the jaw and the link it hinges on.
fn gripper_links(desc: &RobotDescription, g: &GripperSpec) -> Result<Vec<String>, RobotError> {
    Ok(match g {
        GripperSpec::Fingers { joints, .. } => {
            let mut out = Vec::new();
            for j in joints {
                let joint = desc.joint(j)?;
                out.extend(subtree(desc, &joint.child.link));
            }
            out
        }
        GripperSpec::Jaw { joint, .. } => {
            let j = desc.joint(joint)?;
            let mut out = subtree(desc, &j.child.link);
            out.push(j.parent.link.clone());
            out
        }
        GripperSpec::Mounted { .. } => Vec::new(),
    })
}

/// `link` and every link below it.
fn subtree(desc: &RobotDescription, link: &str) -> Vec<String> {
    let mut out = vec![link.to_owned()];
    let mut i = 0;
    while i < out.len() {
        let children: Vec<String> = desc
            .urdf()
            .joints
            .iter()
            .filter(|j| j.parent.link == out[i])
            .map(|j| j.child.link.clone())
            .collect();
        out.extend(children);
        i += 1;
        if out.len() > desc.urdf().links.len() {
            break;
        }
    }
    out
}

enum Carrier {
    /// Rides on moving joint `i`'s child link, at this pose in it.
    Joint(usize, Isometry3<f64>),
    /// Fixed to the base link, at this pose in it.
    Base(Isometry3<f64>),
}

/// Which frame carries `link`: walking up through fixed joints, the first moving
/// joint of the chain, or the base link. `None` for a link off the arm (above the
/// base link, or below a joint that is not the chain's).
fn carrier(desc: &RobotDescription, link: &str, base: &str, moving: &[&str]) -> Option<Carrier> {
    let mut local = Isometry3::identity();
    let mut at = link.to_owned();
    for _ in 0..=desc.urdf().joints.len() {
        if at == base {
            return Some(Carrier::Base(local));
        }
        let j = desc.urdf().joints.iter().find(|j| j.child.link == at)?;
        if let Some(i) = moving.iter().position(|m| *m == j.name) {
            return Some(Carrier::Joint(i, local));
        }
        if j.joint_type != cap_robot::urdf_rs::JointType::Fixed {
            return None;
        }
        local = cap_robot::pose(&j.origin) * local;
        at = j.parent.link.clone();
    }
    None
}

/// Whether `kin` can put its tool at `p` pointing down at any of the [`YAWS`].
pub(crate) fn reaches_down(kin: &ArmKinematics, p: Point3<f64>) -> bool {
    YAWS.iter().any(|yaw| {
        let target = Isometry3::from_parts(Translation3::from(p.coords), top_down(*yaw));
        kin.ik(&target, kin.home(), &IkOptions::default()).is_ok()
    })
}

/// Where an arm reaches straight down: radii about the base axis, between heights
/// [`REACH_LOW_Z_M`] and `top_z_m` above the base.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReachBand {
    /// Nearer than this the arm folds onto itself.
    pub min_radius_m: f64,
    /// Farther than this it cannot reach down.
    pub max_radius_m: f64,
    /// The band's top: [`REACH_HIGH_Z_M`], or lower for an arm that cannot point
    /// down that high (a small arm with a long gripper).
    pub top_z_m: f64,
}

/// Band tops tried, highest first.
const BAND_TOPS_M: [f64; 6] = [REACH_HIGH_Z_M, 0.17, 0.14, 0.11, 0.08, 0.06];

/// Measure the band of `kin`'s arm with its IK: the radii (about the base axis,
/// relative to the base) between which it reaches down at every height of
/// [`REACH_LOW_Z_M`] up to the highest of [`BAND_TOPS_M`] it reaches down at all,
/// bisected to 1/2¹⁴ of the arm's reach bound. The first joint turns the arm about
/// the base axis, so the band is measured along the base's +x and holds in every
/// direction the first joint can turn to. `None` if no radius is reached at every
/// height even of the lowest band. About 0.45 s for the Panda.
pub fn measure_reach_band(kin: &ArmKinematics) -> Option<ReachBand> {
    let kin = kin.with_base(Isometry3::identity()).ok()?;
    let bound = match kin.serial_chain() {
        Some(c) => c.reach_bound_m() + kin.shoulder().xy().norm(),
        None => 1.1,
    };
    let at = |r: f64, z: f64| reaches_down(&kin, Point3::new(r, 0.0, z));
    // Radii to start from, nearest 45% of the bound first.
    let mut order: Vec<f64> = (1..20).map(|k| bound * 0.05 * k as f64).collect();
    order.sort_by(|a, b| {
        (a - 0.45 * bound)
            .abs()
            .total_cmp(&(b - 0.45 * bound).abs())
    });
    for top in BAND_TOPS_M {
        let heights: Vec<f64> = (0..4)
            .map(|k| REACH_LOW_Z_M + (top - REACH_LOW_Z_M) * k as f64 / 3.0)
            .collect();
        let Some(start) = order
            .iter()
            .copied()
            .find(|r| heights.iter().all(|z| at(*r, *z)))
        else {
            continue;
        };
        let mut inner: f64 = 0.0;
        let mut outer: f64 = f64::INFINITY;
        for z in heights {
            outer = outer.min(boundary(start, bound, |r| at(r, z)));
            inner = inner.max(boundary(start, 0.0, |r| at(r, z)));
        }
        return Some(ReachBand {
            min_radius_m: inner,
            max_radius_m: outer,
            top_z_m: top,
        });
    }
    None
}

/// The last radius from `inside` toward `outside` at which `reached` still holds, to
/// within |outside − inside| / 2¹⁴ (the answer is on the reached side).
fn boundary(inside: f64, outside: f64, reached: impl Fn(f64) -> bool) -> f64 {
    let (mut yes, mut no) = (inside, outside);
    for _ in 0..14 {
        let mid = 0.5 * (yes + no);
        if reached(mid) {
            yes = mid;
        } else {
            no = mid;
        }
    }
    yes
}

/// The unit vector of the base's first joint axis in the world, for the rule that the
/// links turned only by a vertical first joint never meet the table anew.
pub(crate) fn first_axis_vertical(kin: &ArmKinematics) -> bool {
    match kin.serial_chain() {
        None => true,
        Some(c) => c.joints().first().is_some_and(|j| {
            let at = c.world_from_base() * j.origin;
            (at.rotation * j.axis.into_inner()).dot(&Vector3::z()).abs() > 0.99
        }),
    }
}

#[cfg(test)]
#[path = "robot_tests.rs"]
mod tests;
