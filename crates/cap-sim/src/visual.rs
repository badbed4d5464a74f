//! The world as an external viewer sees it (cap-viz logs it to rerun): one entry per
//! rigid body, named by its label (`table`, `objects/red_block`, `robot/link3`), with
//! its tessellated geometry in the body's frame and per-vertex colours, and the poses
//! of those bodies over time. Both are pipelines over the render model and the sets.

use rapier3d::prelude::*;

use crate::render::RenderModel;

/// One rigid body's geometry, for viewers.
#[derive(Debug, Clone)]
pub struct VisualBody {
    /// Entity path below the world root: `table`, `objects/NAME`, `robot/PART`.
    pub path: String,
    /// Vertices in the body's frame, metres.
    pub vertices: Vec<[f32; 3]>,
    /// Triangles (indices into `vertices`).
    pub triangles: Vec<[u32; 3]>,
    /// One RGB colour per vertex.
    pub colors: Vec<[u8; 3]>,
    /// Whether the body moves (objects, arm) rather than stands still (table, base).
    pub dynamic: bool,
    body: Option<RigidBodyHandle>,
}

/// A body's pose: translation (m) and rotation as a unit quaternion `[x, y, z, w]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BodyPose {
    /// Position of the body frame, metres.
    pub translation: [f32; 3],
    /// Orientation, quaternion `[x, y, z, w]`.
    pub rotation_xyzw: [f32; 4],
}

fn to_u8(c: [f32; 3]) -> [u8; 3] {
    c.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
}

/// Every rigid body's geometry, named by its label, in a stable order: the render
/// model's meshes merged per body (a bowl's ring segments are one entity).
pub fn bodies(
    model: &RenderModel,
    colliders: &ColliderSet,
    bodies: &RigidBodySet,
) -> Vec<VisualBody> {
    let mut out: Vec<VisualBody> = Vec::new();
    for mesh in &model.meshes {
        let Some(c) = colliders.get(mesh.collider) else {
            continue;
        };
        let body = c.parent();
        let path = &mesh.label.path;
        // Geometry in the body frame (or the world frame for a body-less collider).
        let local = match body {
            Some(_) => c.position_wrt_parent().copied().unwrap_or_default(),
            None => *c.position(),
        };
        let dynamic = body
            .and_then(|b| bodies.get(b))
            .is_some_and(|b| !b.is_fixed());
        let entry = match out
            .iter_mut()
            .position(|v| &v.path == path && v.body == body)
        {
            Some(i) => &mut out[i],
            None => {
                out.push(VisualBody {
                    path: path.clone(),
                    vertices: Vec::new(),
                    triangles: Vec::new(),
                    colors: Vec::new(),
                    dynamic,
                    body,
                });
                let n = out.len() - 1;
                &mut out[n]
            }
        };
        let base = entry.vertices.len() as u32;
        for &v in &mesh.vertices {
            let p = local * v;
            entry.vertices.push([p.x, p.y, p.z]);
            entry.colors.push(to_u8(mesh.label.rgb));
        }
        entry
            .triangles
            .extend(mesh.triangles.iter().map(|t| t.map(|i| i + base)));
    }
    out
}

/// The current pose of each of `visual` in `bodies` (identity for body-less ones).
pub fn poses(bodies: &RigidBodySet, visual: &[VisualBody]) -> Vec<BodyPose> {
    visual
        .iter()
        .map(|v| {
            let pose = v
                .body
                .and_then(|b| bodies.get(b))
                .map(|b| *b.position())
                .unwrap_or_default();
            let (t, r) = (pose.translation, pose.rotation);
            BodyPose {
                translation: [t.x, t.y, t.z],
                rotation_xyzw: [r.x, r.y, r.z, r.w],
            }
        })
        .collect()
}
