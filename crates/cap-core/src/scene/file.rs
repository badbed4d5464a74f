//! The scene file format (serde): every table denies unknown fields, and defaults are
//! filled in here.

use serde::Deserialize;

use super::ObjectKind;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SceneFile {
    pub(super) scene: SceneMetaFile,
    pub(super) table: TableFile,
    #[serde(default)]
    pub(super) robot: RobotFile,
    #[serde(default)]
    pub(super) objects: Vec<ObjectFile>,
    #[serde(default)]
    pub(super) tasks: Vec<TaskFile>,
    #[serde(default)]
    pub(super) cameras: Vec<CameraFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CameraFile {
    pub(super) name: String,
    /// Optical centre, metres, world frame.
    pub(super) position: [f64; 3],
    /// The point the optical axis passes through.
    pub(super) look_at: [f64; 3],
    /// Vertical field of view, degrees.
    #[serde(default = "default_fov")]
    pub(super) fov_deg: f64,
    #[serde(default = "default_resolution")]
    pub(super) width: u32,
    #[serde(default = "default_resolution")]
    pub(super) height: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SceneMetaFile {
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TableFile {
    /// Extent in x and y and thickness, metres.
    pub(super) size: [f64; 3],
    /// Centre of the top face in x, y, metres.
    pub(super) center: [f64; 2],
    #[serde(default = "default_table_color")]
    pub(super) color: String,
    #[serde(default = "default_friction")]
    pub(super) friction: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RobotFile {
    #[serde(default)]
    pub(super) arm: Option<String>,
    #[serde(default)]
    pub(super) urdf: Option<String>,
    #[serde(default)]
    pub(super) base_link: Option<String>,
    #[serde(default)]
    pub(super) tool_link: Option<String>,
    #[serde(default)]
    pub(super) tcp: Option<[f64; 3]>,
    #[serde(default)]
    pub(super) gripper: Option<GripperFile>,
    #[serde(default)]
    pub(super) packages: Vec<String>,
    #[serde(default)]
    pub(super) home: Option<Vec<f64>>,
    #[serde(default)]
    pub(super) base: [f64; 3],
    #[serde(default)]
    pub(super) base_yaw_deg: f64,
    #[serde(default = "default_workspace_min")]
    pub(super) workspace_min: [f64; 3],
    #[serde(default = "default_workspace_max")]
    pub(super) workspace_max: [f64; 3],
    #[serde(default = "default_speed")]
    pub(super) speed: f64,
}

impl Default for RobotFile {
    fn default() -> Self {
        Self {
            arm: None,
            urdf: None,
            base_link: None,
            tool_link: None,
            tcp: None,
            gripper: None,
            packages: Vec::new(),
            home: None,
            base: [0.0; 3],
            base_yaw_deg: 0.0,
            workspace_min: default_workspace_min(),
            workspace_max: default_workspace_max(),
            speed: default_speed(),
        }
    }
}

/// `gripper = { kind = "mounted", max_width = 0.085 }` and its kin.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum GripperFile {
    Fingers { joints: [String; 2], max_width: f64 },
    Jaw { joint: String, max_width: f64 },
    Mounted { max_width: f64 },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ObjectFile {
    pub(super) name: String,
    pub(super) kind: ObjectKind,
    pub(super) color: String,
    /// Required but for meshes (whose bounding box is read from the file).
    #[serde(default)]
    pub(super) size: Option<[f64; 3]>,
    #[serde(default)]
    pub(super) mesh: Option<String>,
    #[serde(default)]
    pub(super) scale: Option<ScaleFile>,
    #[serde(default)]
    pub(super) rotation_deg: Option<[f64; 3]>,
    #[serde(default)]
    pub(super) noun: Option<String>,
    #[serde(default)]
    pub(super) grasp_points: std::collections::BTreeMap<String, [f64; 3]>,
    pub(super) mass: f64,
    #[serde(default = "default_friction")]
    pub(super) friction: f64,
    pub(super) position: Vec<f64>,
    #[serde(default)]
    pub(super) yaw_deg: f64,
    #[serde(default)]
    pub(super) randomize: Option<RandomizeFile>,
}

/// `scale = 0.015` or `scale = [sx, sy, sz]`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub(super) enum ScaleFile {
    Uniform(f64),
    PerAxis([f64; 3]),
}

impl ScaleFile {
    pub(super) fn per_axis(self) -> [f64; 3] {
        match self {
            ScaleFile::Uniform(s) => [s; 3],
            ScaleFile::PerAxis(s) => s,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RandomizeFile {
    #[serde(default)]
    pub(super) x: Option<[f64; 2]>,
    #[serde(default)]
    pub(super) y: Option<[f64; 2]>,
    #[serde(default)]
    pub(super) yaw_deg: Option<[f64; 2]>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TaskFile {
    pub(super) name: String,
    pub(super) instruction: String,
    pub(super) success: String,
    #[serde(default = "default_time_limit")]
    pub(super) time_limit_s: f64,
}

pub(super) fn default_table_color() -> String {
    "brown".into()
}
pub(super) fn default_friction() -> f64 {
    0.8
}
pub(super) fn default_workspace_min() -> [f64; 3] {
    [0.15, -0.6, 0.0]
}
pub(super) fn default_workspace_max() -> [f64; 3] {
    [0.85, 0.6, 0.7]
}
pub(super) fn default_speed() -> f64 {
    0.5
}
pub(super) fn default_time_limit() -> f64 {
    120.0
}
pub(super) fn default_fov() -> f64 {
    55.0
}
pub(super) fn default_resolution() -> u32 {
    224
}
