//! Scene specifications: TOML in, a validated [`Scene`] out.
//!
//! Parsing is strict: unknown keys, NaN/inf numbers, duplicate names, objects that
//! overlap at spawn (under any draw from their randomisation ranges), objects off the
//! table and malformed tasks are errors that name the file and the key. Degrees exist
//! only in the file (`yaw_deg`); a [`Scene`] holds radians.
//!
//! Frame convention: world frame, z up, the table top at z = 0, the robot base on the
//! table; +x points away from the robot, +y to the robot's left.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nalgebra::{Point3, Vector3};
use serde::Deserialize;

mod file;
mod robot;
#[cfg(test)]
mod tests;
mod validate;

use file::{default_fov, default_resolution, SceneFile};
use validate::{line_col, Validator};

pub use robot::{ArmSource, GripperSpec, UrdfArm};

/// Spawn overlap tolerance: objects may touch (a block resting on a plate) but not
/// interpenetrate by more than this.
const OVERLAP_TOLERANCE_M: f64 = 1e-3;

/// A scene could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the schema (unknown key, wrong type).
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A value is well-formed but not acceptable (NaN, duplicate, overlap, ...).
    #[error("{path}: {key}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, as a path (`objects[2].position`).
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The shape family of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// A cuboid; `size` is its full extent in x, y, z.
    Box,
    /// An upright cylinder; `size` = [diameter, diameter, height].
    Cylinder,
    /// A sphere; `size` = [diameter; 3].
    Sphere,
    /// A compound bowl (disc base and a ring of wall segments); `size` = [outer diameter,
    /// outer diameter, height].
    Bowl,
    /// A compound flat plate (thin disc with a low rim); `size` = [diameter, diameter,
    /// height].
    Plate,
    /// A triangle mesh from a file (`mesh = "mug.obj"`), collided with as a convex
    /// decomposition; `size` is its bounding box, read from the file.
    Mesh,
}

impl ObjectKind {
    /// The noun used in descriptions ("red block").
    pub fn noun(self) -> &'static str {
        match self {
            Self::Box => "block",
            Self::Cylinder => "cylinder",
            Self::Sphere => "ball",
            Self::Bowl => "bowl",
            Self::Plate => "plate",
            Self::Mesh => "object",
        }
    }

    /// Other words a description may use for this kind.
    pub fn synonyms(self) -> &'static [&'static str] {
        match self {
            Self::Box => &["block", "cube", "box"],
            Self::Cylinder => &["cylinder", "can", "puck"],
            Self::Sphere => &["ball", "sphere"],
            Self::Bowl => &["bowl", "container", "cup"],
            Self::Plate => &["plate", "dish", "tray"],
            // A mesh object is described by its own noun (`MeshObject::noun`).
            Self::Mesh => &[],
        }
    }

    /// Every kind, in documentation order.
    pub const ALL: [ObjectKind; 6] = [
        ObjectKind::Box,
        ObjectKind::Cylinder,
        ObjectKind::Sphere,
        ObjectKind::Bowl,
        ObjectKind::Plate,
        ObjectKind::Mesh,
    ];

    /// The kinds cap draws as primitives (every kind but [`ObjectKind::Mesh`]): what
    /// the vision model was trained on and the dataset generator makes.
    pub const PRIMITIVES: [ObjectKind; 5] = [
        ObjectKind::Box,
        ObjectKind::Cylinder,
        ObjectKind::Sphere,
        ObjectKind::Bowl,
        ObjectKind::Plate,
    ];

    /// Containers other objects can be put on or in.
    pub fn is_receptacle(self) -> bool {
        matches!(self, Self::Bowl | Self::Plate)
    }
}

/// The named colours scenes may use, with their linear RGB in 0..1.
pub const PALETTE: &[(&str, [f32; 3])] = &[
    ("red", [0.85, 0.12, 0.10]),
    ("green", [0.15, 0.65, 0.20]),
    ("blue", [0.12, 0.25, 0.85]),
    ("yellow", [0.95, 0.85, 0.10]),
    ("orange", [0.95, 0.50, 0.10]),
    ("purple", [0.55, 0.20, 0.70]),
    ("pink", [0.95, 0.55, 0.70]),
    ("cyan", [0.10, 0.75, 0.80]),
    ("white", [0.92, 0.92, 0.92]),
    ("black", [0.08, 0.08, 0.08]),
    ("gray", [0.50, 0.50, 0.50]),
    ("brown", [0.55, 0.38, 0.22]),
];

/// The RGB of a palette colour name.
pub fn color_rgb(name: &str) -> Option<[f32; 3]> {
    PALETTE
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, rgb)| *rgb)
}

/// A uniform range `[lo, hi]` a value is drawn from per seed.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Range {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound (≥ `lo`).
    pub hi: f64,
}

impl Range {
    /// The largest magnitude this range can add.
    pub fn reach(&self) -> f64 {
        self.lo.abs().max(self.hi.abs())
    }
    /// True when the range is the single point 0.
    pub fn is_zero(&self) -> bool {
        self.lo == 0.0 && self.hi == 0.0
    }
}

/// Per-object randomisation, added to the nominal pose for each seed.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Randomize {
    /// Offset in x, metres.
    pub x_m: Range,
    /// Offset in y, metres.
    pub y_m: Range,
    /// Offset in yaw, radians.
    pub yaw_rad: Range,
}

/// One object of a validated scene.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectSpec {
    /// Unique name (`red_block`).
    pub name: String,
    /// Shape family.
    pub kind: ObjectKind,
    /// Palette colour name.
    pub color: String,
    /// Palette RGB.
    pub rgb: [f32; 3],
    /// Full extents (bounding box in the object frame), metres.
    pub size_m: Vector3<f64>,
    /// Mass, kg.
    pub mass_kg: f64,
    /// Coulomb friction coefficient.
    pub friction: f64,
    /// Nominal centre of the bounding box in the world frame.
    pub position_m: Point3<f64>,
    /// Nominal yaw about world z.
    pub yaw_rad: f64,
    /// Per-seed randomisation.
    pub randomize: Randomize,
    /// The mesh of a [`ObjectKind::Mesh`] object.
    pub mesh: Option<MeshObject>,
}

/// A mesh object's file and annotations.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshObject {
    /// The mesh file (resolved against the scene's folder).
    pub path: PathBuf,
    /// Scale per axis applied to the file's coordinates.
    pub scale: [f64; 3],
    /// Rotation applied after the scale (`rotation_deg`, roll-pitch-yaw), for a file
    /// that is not z up.
    pub rotation: nalgebra::UnitQuaternion<f64>,
    /// The word descriptions use for it (`noun = "mug"`; default: the last word of
    /// its name).
    pub noun: String,
    /// Where the object frame (its bounding-box centre) lies in the scaled mesh's
    /// frame, metres.
    pub center_in_mesh_m: Vector3<f64>,
    /// Named functional points (`grasp_points = { handle = [...] }`, given in the
    /// file's coordinates), in the object frame, metres.
    pub grasp_points: Vec<(String, Point3<f64>)>,
}

impl ObjectSpec {
    /// "red block": colour and noun, the form `find` and prompts use.
    pub fn description(&self) -> String {
        format!("{} {}", self.color, self.noun())
    }

    /// The noun descriptions use: the kind's, or a mesh object's own.
    pub fn noun(&self) -> &str {
        match &self.mesh {
            Some(m) => &m.noun,
            None => self.kind.noun(),
        }
    }

    /// The named point `name` of a mesh object, in its frame.
    pub fn grasp_point(&self, name: &str) -> Option<Point3<f64>> {
        self.mesh
            .as_ref()?
            .grasp_points
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| *p)
    }
}

/// The table: a fixed box whose top face is at z = 0.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// Extent in x, y and thickness, metres.
    pub size_m: Vector3<f64>,
    /// Centre of the top face (z = 0).
    pub center_m: Point3<f64>,
    /// Colour name.
    pub color: String,
    /// Friction coefficient.
    pub friction: f64,
}

/// The robot's placement and its safety envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct RobotSpec {
    /// Which arm.
    pub arm: ArmSource,
    /// Base position in the world.
    pub base_m: Point3<f64>,
    /// Base rotation about world z, radians.
    pub base_yaw_rad: f64,
    /// The ready pose, if the scene gives one (otherwise the arm's own).
    pub home: Option<Vec<f64>>,
    /// Workspace box the tool centre point must stay in (lower corner).
    pub workspace_min_m: Point3<f64>,
    /// Workspace box upper corner.
    pub workspace_max_m: Point3<f64>,
    /// Fraction (0, 1] of the joint velocity limits that motions use.
    pub speed: f64,
}

/// A task: an instruction and the hidden success predicate.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    /// Unique name within the scene.
    pub name: String,
    /// The natural-language instruction given to a model.
    pub instruction: String,
    /// A rhai expression over the query API that is true on success. Never shown to
    /// the program.
    pub success: String,
    /// Simulated-time budget of an episode, seconds.
    pub time_limit_s: f64,
}

/// A validated scene.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// Where it was loaded from (for messages).
    pub path: PathBuf,
    /// Scene name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// The table.
    pub table: TableSpec,
    /// The robot.
    pub robot: RobotSpec,
    /// Objects in file order.
    pub objects: Vec<ObjectSpec>,
    /// Tasks in file order.
    pub tasks: Vec<TaskSpec>,
    /// Cameras; a scene without `[[cameras]]` gets [`CameraSpec::default_front`].
    pub cameras: Vec<CameraSpec>,
}

/// A pinhole camera looking at the table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CameraSpec {
    /// Name used in image paths and traces (`front`).
    pub name: String,
    /// Optical centre, world frame, metres.
    pub position_m: Point3<f64>,
    /// A point on the optical axis.
    pub look_at_m: Point3<f64>,
    /// Vertical field of view, degrees.
    pub fov_deg: f64,
    /// Image width, pixels.
    pub width: u32,
    /// Image height, pixels.
    pub height: u32,
}

impl CameraSpec {
    /// The camera every scene has unless it names its own: opposite the robot, looking
    /// down at the table and the arm, 224×224, 55° vertical field of view.
    pub fn default_front(table: &TableSpec) -> Self {
        let c = table.center_m;
        Self {
            name: "front".into(),
            position_m: Point3::new(c.x + 0.85, c.y, 0.85),
            look_at_m: Point3::new(c.x - 0.1, c.y, 0.08),
            fov_deg: default_fov(),
            width: default_resolution(),
            height: default_resolution(),
        }
    }
}

impl Scene {
    /// Load and validate a scene file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, SceneError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SceneError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// Parse and validate scene text; `path` is used in messages only.
    pub fn from_toml(text: &str, path: impl AsRef<Path>) -> Result<Self, SceneError> {
        let path = path.as_ref().to_owned();
        let file: SceneFile = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            SceneError::Parse {
                path: path.clone(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        Validator { path }.scene(file)
    }

    /// The object called `name`.
    pub fn object(&self, name: &str) -> Option<&ObjectSpec> {
        self.objects.iter().find(|o| o.name == name)
    }

    /// The camera called `name`.
    pub fn camera(&self, name: &str) -> Option<&CameraSpec> {
        self.cameras.iter().find(|c| c.name == name)
    }

    /// The task called `name`.
    pub fn task(&self, name: &str) -> Option<&TaskSpec> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// Object names in file order.
    pub fn object_names(&self) -> Vec<String> {
        self.objects.iter().map(|o| o.name.clone()).collect()
    }
}

/// Half extents in world x and y of everywhere the object can spawn: its footprint
/// under any yaw it may be drawn with, grown by its position ranges.
pub fn footprint_half_extents(o: &ObjectSpec) -> (f64, f64) {
    let (hx, hy) = (o.size_m.x / 2.0, o.size_m.y / 2.0);
    let (rx, ry) = if o.randomize.yaw_rad.is_zero() {
        let (s, c) = crate::math::sin_cos(o.yaw_rad);
        (c.abs() * hx + s.abs() * hy, s.abs() * hx + c.abs() * hy)
    } else {
        let r = hx.hypot(hy);
        (r, r)
    };
    (rx + o.randomize.x_m.reach(), ry + o.randomize.y_m.reach())
}
