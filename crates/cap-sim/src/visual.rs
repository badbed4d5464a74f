//! The world as an external viewer sees it (cap-viz logs it to rerun): one entry per
//! rigid body, named by what it is (`table`, `objects/red_block`, `robot/link3`), with
//! its tessellated geometry in the body's frame and per-vertex colours; poses over time;
//! and a [`StepObserver`] hook that hears every physics step and every planned motion.

use std::sync::Arc;

use cap_core::kinematics::Joints;
use rapier3d::prelude::*;

use crate::world::World;

/// Hears the world as it runs. Implementations decide how often to look (every step is
/// 240 Hz) and must be cheap when they do not.
pub trait StepObserver: Send + Sync {
    /// Called after every physics step.
    fn on_step(&self, world: &World);
    /// Called when the arm starts to follow a gated joint trajectory (the planned path).
    fn on_plan(&self, world: &World, path: &[Joints]) {
        let _ = (world, path);
    }
}

/// A shared observer.
pub type SharedObserver = Arc<dyn StepObserver>;

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

impl World {
    /// Every rigid body's geometry, named by what it is, in a stable order.
    pub fn visual_bodies(&self) -> Vec<VisualBody> {
        let mut out: Vec<VisualBody> = Vec::new();
        for mesh in &self.render_model.meshes {
            let Some(c) = self.colliders.get(mesh.collider) else {
                continue;
            };
            let body = c.parent();
            let path = if mesh.collider == self.table_collider {
                "table".to_string()
            } else if let Some(o) = (c.user_data as usize)
                .checked_sub(1)
                .and_then(|i| self.scene.objects.get(i))
            {
                format!("objects/{}", o.name)
            } else if let Some(i) = body.and_then(|b| self.part_bodies.iter().position(|&p| p == b))
            {
                format!("robot/{}", self.parts[i].name)
            } else {
                "robot/base".to_string()
            };
            // Geometry in the body frame (or the world frame for a body-less collider).
            let local = match body {
                Some(_) => c.position_wrt_parent().copied().unwrap_or_default(),
                None => *c.position(),
            };
            let dynamic = body
                .and_then(|b| self.bodies.get(b))
                .is_some_and(|b| !b.is_fixed());
            let entry = match out.iter_mut().find(|v| v.path == path && v.body == body) {
                Some(e) => e,
                None => {
                    out.push(VisualBody {
                        path,
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
                entry.colors.push(to_u8(mesh.rgb));
            }
            entry
                .triangles
                .extend(mesh.triangles.iter().map(|t| t.map(|i| i + base)));
        }
        out
    }

    /// The current pose of each of `bodies` (identity for body-less ones).
    pub fn visual_poses(&self, bodies: &[VisualBody]) -> Vec<BodyPose> {
        bodies
            .iter()
            .map(|v| {
                let pose = v
                    .body
                    .and_then(|b| self.bodies.get(b))
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

    /// Tool-centre-point positions along a joint path.
    pub fn tcp_path(&self, path: &[Joints]) -> Vec<[f32; 3]> {
        path.iter()
            .map(|q| {
                let p = self.kinematics.tcp(q).translation.vector;
                [p.x as f32, p.y as f32, p.z as f32]
            })
            .collect()
    }

    /// Current gripper opening, metres.
    pub fn gripper_opening_m(&self) -> f64 {
        cap_core::robot::RobotBackend::gripper_width(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn world() -> World {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenes");
        let scene = cap_core::scene::Scene::load(dir.join("tabletop.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        World::new(Arc::new(scene), 0).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn bodies_are_named_coloured_and_posed() {
        let w = world();
        let v = w.visual_bodies();
        let paths: Vec<&str> = v.iter().map(|b| b.path.as_str()).collect();
        for p in [
            "table",
            "objects/red_block",
            "objects/yellow_bowl",
            "robot/link3",
            "robot/hand",
        ] {
            assert!(paths.contains(&p), "{p} missing from {paths:?}");
        }
        // One entry per body: the bowl's ring segments are one entity.
        assert_eq!(
            paths
                .iter()
                .filter(|p| **p == "objects/yellow_bowl")
                .count(),
            1
        );
        let red = &v[paths
            .iter()
            .position(|p| *p == "objects/red_block")
            .unwrap_or(0)];
        assert!(red.dynamic && !red.triangles.is_empty());
        assert_eq!(red.colors.len(), red.vertices.len());
        let [r, g, b] = red.colors[0];
        assert!(r > 150 && g < 100 && b < 100, "{:?}", red.colors[0]);
        // The block's pose is its world position.
        let poses = w.visual_poses(&v);
        let i = paths
            .iter()
            .position(|p| *p == "objects/red_block")
            .unwrap_or(0);
        let st = w
            .object_states()
            .into_iter()
            .find(|o| o.name == "red_block");
        let p = st.map(|s| s.position()).unwrap_or_default();
        let t = poses[i].translation;
        assert!(
            ((t[0] as f64 - p.x).abs() + (t[1] as f64 - p.y).abs()) < 1e-3,
            "{t:?} vs {p:?}"
        );
    }

    struct Count(Mutex<(u64, usize)>);
    impl StepObserver for Count {
        fn on_step(&self, _: &World) {
            if let Ok(mut c) = self.0.lock() {
                c.0 += 1;
            }
        }
        fn on_plan(&self, _: &World, path: &[Joints]) {
            if let Ok(mut c) = self.0.lock() {
                c.1 += path.len();
            }
        }
    }

    #[test]
    fn the_observer_hears_steps_and_plans() {
        use crate::primitives::Primitives;
        let mut w = world();
        let count = Arc::new(Count(Mutex::new((0, 0))));
        w.set_observer(Some(count.clone()));
        let before = w.steps();
        let r = w.pick("red_block");
        assert!(r.is_ok(), "{r:?}");
        let (steps, planned) = count.0.lock().map(|c| *c).unwrap_or_default();
        assert_eq!(steps, w.steps() - before);
        assert!(planned > 10, "{planned}");
        let path = w.tcp_path(&[[0.0; 7]]);
        assert!(path[0].iter().all(|c| c.is_finite()));
    }
}
