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

// ---------------------------------------------------------------------------------------
// The file format (serde). Every table denies unknown fields.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SceneFile {
    scene: SceneMetaFile,
    table: TableFile,
    #[serde(default)]
    robot: RobotFile,
    #[serde(default)]
    objects: Vec<ObjectFile>,
    #[serde(default)]
    tasks: Vec<TaskFile>,
    #[serde(default)]
    cameras: Vec<CameraFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CameraFile {
    name: String,
    /// Optical centre, metres, world frame.
    position: [f64; 3],
    /// The point the optical axis passes through.
    look_at: [f64; 3],
    /// Vertical field of view, degrees.
    #[serde(default = "default_fov")]
    fov_deg: f64,
    #[serde(default = "default_resolution")]
    width: u32,
    #[serde(default = "default_resolution")]
    height: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SceneMetaFile {
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    /// Extent in x and y and thickness, metres.
    size: [f64; 3],
    /// Centre of the top face in x, y, metres.
    center: [f64; 2],
    #[serde(default = "default_table_color")]
    color: String,
    #[serde(default = "default_friction")]
    friction: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RobotFile {
    #[serde(default)]
    base: [f64; 3],
    #[serde(default = "default_workspace_min")]
    workspace_min: [f64; 3],
    #[serde(default = "default_workspace_max")]
    workspace_max: [f64; 3],
    #[serde(default = "default_speed")]
    speed: f64,
}

impl Default for RobotFile {
    fn default() -> Self {
        Self {
            base: [0.0; 3],
            workspace_min: default_workspace_min(),
            workspace_max: default_workspace_max(),
            speed: default_speed(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectFile {
    name: String,
    kind: ObjectKind,
    color: String,
    size: [f64; 3],
    mass: f64,
    #[serde(default = "default_friction")]
    friction: f64,
    position: Vec<f64>,
    #[serde(default)]
    yaw_deg: f64,
    #[serde(default)]
    randomize: Option<RandomizeFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RandomizeFile {
    #[serde(default)]
    x: Option<[f64; 2]>,
    #[serde(default)]
    y: Option<[f64; 2]>,
    #[serde(default)]
    yaw_deg: Option<[f64; 2]>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    name: String,
    instruction: String,
    success: String,
    #[serde(default = "default_time_limit")]
    time_limit_s: f64,
}

fn default_table_color() -> String {
    "brown".into()
}
fn default_friction() -> f64 {
    0.8
}
fn default_workspace_min() -> [f64; 3] {
    [0.15, -0.6, 0.0]
}
fn default_workspace_max() -> [f64; 3] {
    [0.85, 0.6, 0.7]
}
fn default_speed() -> f64 {
    0.5
}
fn default_time_limit() -> f64 {
    120.0
}
fn default_fov() -> f64 {
    55.0
}
fn default_resolution() -> u32 {
    224
}

// ---------------------------------------------------------------------------------------
// The validated scene.
// ---------------------------------------------------------------------------------------

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
        }
    }

    /// Every kind, in documentation order.
    pub const ALL: [ObjectKind; 5] = [
        ObjectKind::Box,
        ObjectKind::Cylinder,
        ObjectKind::Sphere,
        ObjectKind::Bowl,
        ObjectKind::Plate,
    ];

    /// The kind a description word names: a synonym, singular or plural ("cans").
    pub fn from_word(word: &str) -> Option<ObjectKind> {
        let one = crate::vocabulary::singular(word);
        Self::ALL
            .into_iter()
            .find(|k| k.synonyms().iter().any(|s| *s == word || *s == one))
    }

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
}

impl ObjectSpec {
    /// "red block": colour and noun, the form `find` and prompts use.
    pub fn description(&self) -> String {
        format!("{} {}", self.color, self.kind.noun())
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
    /// Base position in the world.
    pub base_m: Point3<f64>,
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

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

struct Validator {
    path: PathBuf,
}

impl Validator {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> SceneError {
        SceneError::Invalid {
            path: self.path.clone(),
            key: key.into(),
            message: message.into(),
        }
    }

    fn finite(&self, key: &str, values: &[f64]) -> Result<(), SceneError> {
        for (i, v) in values.iter().enumerate() {
            if !v.is_finite() {
                let key = if values.len() > 1 {
                    format!("{key}[{i}]")
                } else {
                    key.to_owned()
                };
                return Err(self.err(key, format!("must be a finite number, got {v}")));
            }
        }
        Ok(())
    }

    fn in_range(&self, key: &str, v: f64, lo: f64, hi: f64, unit: &str) -> Result<(), SceneError> {
        self.finite(key, &[v])?;
        if v < lo || v > hi {
            return Err(self.err(key, format!("{v} {unit} is outside [{lo}, {hi}]")));
        }
        Ok(())
    }

    fn name(&self, key: &str, name: &str) -> Result<(), SceneError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if !ok {
            return Err(self.err(
                key,
                format!("`{name}` must be lower_snake_case ASCII, 1-64 chars"),
            ));
        }
        Ok(())
    }

    fn range(&self, key: &str, r: Option<[f64; 2]>, limit: f64) -> Result<Range, SceneError> {
        let Some([lo, hi]) = r else {
            return Ok(Range::default());
        };
        self.finite(key, &[lo, hi])?;
        if lo > hi {
            return Err(self.err(key, format!("lower bound {lo} is above upper bound {hi}")));
        }
        if lo.abs() > limit || hi.abs() > limit {
            return Err(self.err(key, format!("range [{lo}, {hi}] exceeds ±{limit}")));
        }
        Ok(Range { lo, hi })
    }

    fn scene(&self, f: SceneFile) -> Result<Scene, SceneError> {
        self.name("scene.name", &f.scene.name)?;

        let t = &f.table;
        self.finite("table.size", &t.size)?;
        self.finite("table.center", &t.center)?;
        for (i, v) in t.size.iter().enumerate() {
            if !(0.01..=10.0).contains(v) {
                return Err(self.err(
                    format!("table.size[{i}]"),
                    format!("{v} m is outside [0.01, 10]"),
                ));
            }
        }
        self.in_range("table.friction", t.friction, 0.0, 2.0, "")?;
        let table_rgb = color_rgb(&t.color);
        if table_rgb.is_none() {
            return Err(self.err("table.color", unknown_color(&t.color)));
        }
        let table = TableSpec {
            size_m: Vector3::new(t.size[0], t.size[1], t.size[2]),
            center_m: Point3::new(t.center[0], t.center[1], 0.0),
            color: t.color.clone(),
            friction: t.friction,
        };

        let r = &f.robot;
        self.finite("robot.base", &r.base)?;
        self.finite("robot.workspace_min", &r.workspace_min)?;
        self.finite("robot.workspace_max", &r.workspace_max)?;
        for i in 0..3 {
            if r.workspace_min[i] >= r.workspace_max[i] {
                return Err(self.err(
                    format!("robot.workspace_min[{i}]"),
                    format!(
                        "must be below workspace_max[{i}] ({} >= {})",
                        r.workspace_min[i], r.workspace_max[i]
                    ),
                ));
            }
        }
        self.in_range("robot.speed", r.speed, 0.05, 1.0, "")?;
        let robot = RobotSpec {
            base_m: Point3::from(r.base),
            workspace_min_m: Point3::from(r.workspace_min),
            workspace_max_m: Point3::from(r.workspace_max),
            speed: r.speed,
        };

        let mut names = BTreeSet::new();
        let mut objects = Vec::with_capacity(f.objects.len());
        for (i, o) in f.objects.iter().enumerate() {
            let k = format!("objects[{i}]");
            self.name(&format!("{k}.name"), &o.name)?;
            let k = format!("objects[{i}] ({})", o.name);
            if o.name == "table" || !names.insert(o.name.clone()) {
                return Err(self.err(
                    format!("{k}.name"),
                    format!("duplicate object name `{}`", o.name),
                ));
            }
            objects.push(self.object(&k, o, &table)?);
        }
        self.no_overlaps(&objects)?;

        let mut task_names = BTreeSet::new();
        let mut tasks = Vec::with_capacity(f.tasks.len());
        for (i, tf) in f.tasks.iter().enumerate() {
            let k = format!("tasks[{i}]");
            self.name(&format!("{k}.name"), &tf.name)?;
            if !task_names.insert(tf.name.clone()) {
                return Err(self.err(
                    format!("{k}.name"),
                    format!("duplicate task name `{}`", tf.name),
                ));
            }
            if tf.instruction.trim().is_empty() {
                return Err(self.err(format!("{k}.instruction"), "must not be empty"));
            }
            if tf.success.trim().is_empty() {
                return Err(self.err(format!("{k}.success"), "must not be empty"));
            }
            self.in_range(
                &format!("{k}.time_limit_s"),
                tf.time_limit_s,
                1.0,
                3600.0,
                "s",
            )?;
            tasks.push(TaskSpec {
                name: tf.name.clone(),
                instruction: tf.instruction.trim().to_owned(),
                success: tf.success.trim().to_owned(),
                time_limit_s: tf.time_limit_s,
            });
        }

        let mut cameras = Vec::with_capacity(f.cameras.len());
        let mut camera_names = BTreeSet::new();
        for (i, c) in f.cameras.iter().enumerate() {
            let k = format!("cameras[{i}]");
            self.name(&format!("{k}.name"), &c.name)?;
            if !camera_names.insert(c.name.clone()) {
                return Err(self.err(
                    format!("{k}.name"),
                    format!("duplicate camera name `{}`", c.name),
                ));
            }
            let k = format!("cameras[{i}] ({})", c.name);
            self.finite(&format!("{k}.position"), &c.position)?;
            self.finite(&format!("{k}.look_at"), &c.look_at)?;
            let (p, l) = (Point3::from(c.position), Point3::from(c.look_at));
            let axis = l - p;
            if axis.norm() < 0.05 {
                return Err(self.err(
                    format!("{k}.look_at"),
                    "must be at least 5 cm from position",
                ));
            }
            // The image's up is world +z projected: the axis must not be vertical.
            if axis.normalize().z.abs() > 0.999 {
                return Err(self.err(
                    format!("{k}.look_at"),
                    "the optical axis must not be exactly vertical (tilt it slightly)",
                ));
            }
            self.in_range(&format!("{k}.fov_deg"), c.fov_deg, 10.0, 120.0, "deg")?;
            for (key, v) in [("width", c.width), ("height", c.height)] {
                if !(16..=2048).contains(&v) {
                    return Err(self.err(
                        format!("{k}.{key}"),
                        format!("{v} px is outside [16, 2048]"),
                    ));
                }
            }
            cameras.push(CameraSpec {
                name: c.name.clone(),
                position_m: p,
                look_at_m: l,
                fov_deg: c.fov_deg,
                width: c.width,
                height: c.height,
            });
        }
        if cameras.is_empty() {
            cameras.push(CameraSpec::default_front(&table));
        }

        Ok(Scene {
            path: self.path.clone(),
            name: f.scene.name,
            description: f.scene.description,
            table,
            robot,
            objects,
            tasks,
            cameras,
        })
    }

    fn object(&self, k: &str, o: &ObjectFile, table: &TableSpec) -> Result<ObjectSpec, SceneError> {
        self.finite(&format!("{k}.size"), &o.size)?;
        for (i, v) in o.size.iter().enumerate() {
            if !(0.005..=1.0).contains(v) {
                return Err(self.err(
                    format!("{k}.size[{i}]"),
                    format!("{v} m is outside [0.005, 1]"),
                ));
            }
        }
        let round = matches!(
            o.kind,
            ObjectKind::Cylinder | ObjectKind::Bowl | ObjectKind::Plate | ObjectKind::Sphere
        );
        if round && (o.size[0] - o.size[1]).abs() > 1e-9 {
            return Err(self.err(
                format!("{k}.size"),
                "a round object needs size[0] == size[1] (its diameter)",
            ));
        }
        if o.kind == ObjectKind::Sphere && (o.size[0] - o.size[2]).abs() > 1e-9 {
            return Err(self.err(format!("{k}.size"), "a sphere needs all three sizes equal"));
        }
        self.in_range(&format!("{k}.mass"), o.mass, 0.001, 10.0, "kg")?;
        self.in_range(&format!("{k}.friction"), o.friction, 0.0, 2.0, "")?;
        self.finite(&format!("{k}.yaw_deg"), &[o.yaw_deg])?;
        let rgb = color_rgb(&o.color)
            .ok_or_else(|| self.err(format!("{k}.color"), unknown_color(&o.color)))?;

        let pk = format!("{k}.position");
        self.finite(&pk, &o.position)?;
        let position_m = match o.position.as_slice() {
            // Two coordinates: the object rests on the table.
            [x, y] => Point3::new(*x, *y, o.size[2] / 2.0),
            [x, y, z] => Point3::new(*x, *y, *z),
            other => {
                return Err(self.err(
                    pk,
                    format!("needs [x, y] or [x, y, z], got {} numbers", other.len()),
                ));
            }
        };

        let randomize = match &o.randomize {
            None => Randomize::default(),
            Some(r) => Randomize {
                x_m: self.range(&format!("{k}.randomize.x"), r.x, 0.5)?,
                y_m: self.range(&format!("{k}.randomize.y"), r.y, 0.5)?,
                yaw_rad: {
                    let d = self.range(&format!("{k}.randomize.yaw_deg"), r.yaw_deg, 180.0)?;
                    Range {
                        lo: d.lo.to_radians(),
                        hi: d.hi.to_radians(),
                    }
                },
            },
        };

        let spec = ObjectSpec {
            name: o.name.clone(),
            kind: o.kind,
            color: o.color.clone(),
            rgb,
            size_m: Vector3::from(o.size),
            mass_kg: o.mass,
            friction: o.friction,
            position_m,
            yaw_rad: o.yaw_deg.to_radians(),
            randomize,
        };

        // On the table: the whole reachable footprint inside the table top, the bottom
        // not below it.
        let (hx, hy) = footprint_half_extents(&spec);
        let (tx, ty) = (table.size_m.x / 2.0, table.size_m.y / 2.0);
        if (position_m.x - table.center_m.x).abs() + hx > tx
            || (position_m.y - table.center_m.y).abs() + hy > ty
        {
            return Err(self.err(
                pk,
                "the object (with its randomisation range) is not fully on the table",
            ));
        }
        if position_m.z - o.size[2] / 2.0 < -OVERLAP_TOLERANCE_M {
            return Err(self.err(
                pk,
                format!(
                    "the object's bottom is below the table top (z = {:.4} m)",
                    position_m.z - o.size[2] / 2.0
                ),
            ));
        }
        Ok(spec)
    }

    fn no_overlaps(&self, objects: &[ObjectSpec]) -> Result<(), SceneError> {
        for (i, a) in objects.iter().enumerate() {
            for (j, b) in objects.iter().enumerate().skip(i + 1) {
                let (ax, ay) = footprint_half_extents(a);
                let (bx, by) = footprint_half_extents(b);
                let dx = (a.position_m.x - b.position_m.x).abs();
                let dy = (a.position_m.y - b.position_m.y).abs();
                let dz = (a.position_m.z - b.position_m.z).abs();
                let overlap_x = ax + bx - dx;
                let overlap_y = ay + by - dy;
                let overlap_z = (a.size_m.z + b.size_m.z) / 2.0 - dz;
                if overlap_x > OVERLAP_TOLERANCE_M
                    && overlap_y > OVERLAP_TOLERANCE_M
                    && overlap_z > OVERLAP_TOLERANCE_M
                {
                    return Err(self.err(
                        format!("objects[{j}] ({}).position", b.name),
                        format!(
                            "spawn volume overlaps `{}` (objects[{i}]) by {:.1} mm; move them apart or narrow their randomize ranges",
                            a.name,
                            overlap_x.min(overlap_y).min(overlap_z) * 1000.0
                        ),
                    ));
                }
            }
        }
        Ok(())
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

fn unknown_color(c: &str) -> String {
    let names: Vec<&str> = PALETTE.iter().map(|(n, _)| *n).collect();
    format!("unknown colour `{c}`; known: {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[scene]
name = "t"
[table]
size = [1.0, 1.2, 0.05]
center = [0.5, 0.0]
[[objects]]
name = "red_block"
kind = "box"
color = "red"
size = [0.04, 0.04, 0.04]
mass = 0.1
position = [0.5, 0.1]
[objects.randomize]
x = [-0.02, 0.02]
[[objects]]
name = "blue_plate"
kind = "plate"
color = "blue"
size = [0.16, 0.16, 0.02]
mass = 0.3
position = [0.5, -0.15]
[[tasks]]
name = "red_on_blue"
instruction = "put the red block on the blue plate"
success = 'is_on("red_block", "blue_plate")'
"#;

    fn invalid(text: &str) -> String {
        match Scene::from_toml(text, "s.toml") {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn good_scene_loads_with_radians_and_resting_z() {
        let s = Scene::from_toml(GOOD, "s.toml").unwrap();
        assert_eq!(s.objects.len(), 2);
        assert!((s.objects[0].position_m.z - 0.02).abs() < 1e-12);
        assert_eq!(
            s.objects[0].randomize.x_m,
            Range {
                lo: -0.02,
                hi: 0.02
            }
        );
        assert_eq!(s.task("red_on_blue").unwrap().time_limit_s, 120.0);
        assert_eq!(s.objects[1].description(), "blue plate");
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let e = invalid(&GOOD.replace("mass = 0.1", "mass = 0.1\ncolour = \"red\""));
        assert!(e.starts_with("s.toml:"), "{e}");
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn nan_and_inf_are_rejected_with_key() {
        let e = invalid(&GOOD.replace("position = [0.5, 0.1]", "position = [nan, 0.1]"));
        assert!(
            e.contains("objects[0] (red_block).position[0]") && e.contains("finite"),
            "{e}"
        );
        let e = invalid(&GOOD.replace("mass = 0.3", "mass = inf"));
        assert!(e.contains("objects[1] (blue_plate).mass"), "{e}");
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let e = invalid(&GOOD.replace("name = \"blue_plate\"", "name = \"red_block\""));
        assert!(e.contains("duplicate object name `red_block`"), "{e}");
    }

    #[test]
    fn overlapping_spawns_are_rejected_including_randomisation() {
        let e = invalid(&GOOD.replace("position = [0.5, -0.15]", "position = [0.5, 0.02]"));
        assert!(e.contains("overlaps `red_block`"), "{e}");
        // 0.13 m apart in y: clear at nominal poses, but not once y is randomised ±4 cm.
        let near = GOOD.replace("position = [0.5, -0.15]", "position = [0.5, -0.03]");
        let near = near.replace("x = [-0.02, 0.02]", "y = [-0.04, 0.04]");
        assert!(invalid(&near).contains("overlaps"));
    }

    #[test]
    fn off_table_and_bad_values_are_rejected() {
        assert!(
            invalid(&GOOD.replace("position = [0.5, 0.1]", "position = [1.2, 0.1]"))
                .contains("not fully on the table")
        );
        assert!(
            invalid(&GOOD.replace("color = \"red\"", "color = \"mauve\""))
                .contains("unknown colour")
        );
        assert!(invalid(&GOOD.replace("kind = \"box\"", "kind = \"torus\"")).contains("torus"));
        assert!(
            invalid(&GOOD.replace("[0.16, 0.16, 0.02]", "[0.16, 0.10, 0.02]")).contains("diameter")
        );
        assert!(
            invalid(&GOOD.replace("x = [-0.02, 0.02]", "x = [0.02, -0.02]"))
                .contains("above upper bound")
        );
    }
}
