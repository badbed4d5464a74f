//! Building a world's rigid bodies and colliders from a scene and a seed: the table,
//! the objects at their randomised poses, the arm's kinematic parts and its base. Each
//! collider is labelled here, once ([`crate::labels`]), and the renderer's tessellation
//! is made from those labels.

use std::sync::Arc;

use cap_core::arm::ArmKinematics;
use cap_core::nalgebra::{Isometry3, Translation3};
use cap_core::scene::Scene;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rapier3d::prelude::*;

use crate::convert::to_pose;
use crate::geometry::{object_shape, part_frame_pose, yaw, ArmPart};
use crate::labels::{Label, Labels};
use crate::render::RenderModel;
use crate::robot::Robot;

/// Friction coefficient of the finger pads.
pub(crate) const FINGER_FRICTION: f32 = 1.0;

pub(crate) const G_TABLE: Group = Group::GROUP_1;
pub(crate) const G_OBJECT: Group = Group::GROUP_2;
pub(crate) const G_ARM: Group = Group::GROUP_3;
pub(crate) const G_HELD: Group = Group::GROUP_4;

/// Interaction groups: a collider in `member` that meets colliders in `filter`.
pub(crate) fn groups(member: Group, filter: Group) -> InteractionGroups {
    InteractionGroups::new(member, filter, InteractionTestMode::And)
}

/// One scene object's bodies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObjectBody {
    pub(crate) body: RigidBodyHandle,
    pub(crate) collider: ColliderHandle,
}

/// The sets and handles of a freshly built world, before it settles.
pub(crate) struct Assembly {
    pub(crate) bodies: RigidBodySet,
    pub(crate) colliders: ColliderSet,
    pub(crate) table_collider: ColliderHandle,
    pub(crate) objects: Vec<ObjectBody>,
    pub(crate) parts: Arc<Vec<ArmPart>>,
    pub(crate) part_bodies: Vec<RigidBodyHandle>,
    pub(crate) finger_colliders: [ColliderHandle; 2],
    pub(crate) kinematics: Arc<ArmKinematics>,
    pub(crate) render_model: RenderModel,
}

/// Build the bodies and colliders of `scene` with object poses drawn from `seed`, and
/// `robot` at its ready pose with the gripper open. Fails only for a mesh object whose
/// file can no longer be read: its name and why.
pub(crate) fn assemble(
    scene: &Scene,
    seed: u64,
    robot: &Robot,
) -> Result<Assembly, (String, cap_core::mesh::MeshError)> {
    let mut bodies = RigidBodySet::new();
    let mut colliders = ColliderSet::new();
    let mut labels = Labels::default();

    // The table: top face at z = 0.
    let t = &scene.table;
    let table_body = bodies.insert(RigidBodyBuilder::fixed().translation(Vector::new(
        t.center_m.x as f32,
        t.center_m.y as f32,
        -(t.size_m.z as f32) / 2.0,
    )));
    let table_collider = colliders.insert_with_parent(
        ColliderBuilder::cuboid(
            t.size_m.x as f32 / 2.0,
            t.size_m.y as f32 / 2.0,
            t.size_m.z as f32 / 2.0,
        )
        .friction(t.friction as f32)
        .collision_groups(groups(G_TABLE, Group::ALL)),
        table_body,
        &mut bodies,
    );
    let table_rgb = cap_core::scene::color_rgb(&t.color).unwrap_or([0.5; 3]);
    labels.insert(table_collider, Label::table(table_rgb));

    // Objects, each with its own random stream so adding one object does not move the
    // others.
    let mut objects = Vec::with_capacity(scene.objects.len());
    for (i, o) in scene.objects.iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fnv1a(o.name.as_bytes()));
        let r = &o.randomize;
        let mut draw = |lo: f64, hi: f64| {
            if hi > lo {
                rng.random_range(lo..=hi)
            } else {
                lo
            }
        };
        let dx = draw(r.x_m.lo, r.x_m.hi);
        let dy = draw(r.y_m.lo, r.y_m.hi);
        let dyaw = draw(r.yaw_rad.lo, r.yaw_rad.hi);
        let pose = Isometry3::from_parts(
            Translation3::new(o.position_m.x + dx, o.position_m.y + dy, o.position_m.z),
            yaw(o.yaw_rad + dyaw),
        );
        let body = bodies.insert(
            RigidBodyBuilder::dynamic()
                .pose(to_pose(&pose))
                .ccd_enabled(false)
                .can_sleep(true),
        );
        let collider = colliders.insert_with_parent(
            ColliderBuilder::new(object_shape(o).map_err(|e| (o.name.clone(), e))?)
                .mass(o.mass_kg as f32)
                .friction(o.friction as f32)
                .collision_groups(groups(G_OBJECT, Group::ALL)),
            body,
            &mut bodies,
        );
        labels.insert(collider, Label::object(i, &o.name, o.rgb));
        objects.push(ObjectBody { body, collider });
    }

    // The arm: kinematic parts following the joint state, on a fixed base.
    let kinematics = robot.kinematics().clone();
    let base = kinematics.world_from_base();
    let parts = robot.parts().clone();
    let frames = kinematics.frames(kinematics.home());
    let open = robot.gripper_max_width_m();
    let mut part_bodies = Vec::with_capacity(parts.len());
    let mut finger_colliders = [table_collider; 2];
    for (i, part) in parts.iter().enumerate() {
        let pose = part_frame_pose(&frames, part.frame, open) * part.local;
        let body = bodies.insert(RigidBodyBuilder::kinematic_position_based().pose(to_pose(&pose)));
        let friction = if part.name.starts_with("finger") {
            FINGER_FRICTION
        } else {
            0.5
        };
        let c = colliders.insert_with_parent(
            ColliderBuilder::new(part.shape.clone())
                .friction(friction)
                .density(0.0)
                .collision_groups(groups(G_ARM, G_OBJECT | G_TABLE)),
            body,
            &mut bodies,
        );
        labels.insert(c, Label::arm_part(i, &part.name));
        if part.name == "finger_left" {
            finger_colliders[0] = c;
        } else if part.name == "finger_right" {
            finger_colliders[1] = c;
        }
        part_bodies.push(body);
    }
    if robot.is_builtin() {
        // The built-in Panda stands on a pillar.
        let pillar = bodies.insert(RigidBodyBuilder::fixed().translation(Vector::new(
            base.translation.x as f32,
            base.translation.y as f32,
            base.translation.z as f32 + 0.15,
        )));
        let pillar_collider = colliders.insert_with_parent(
            ColliderBuilder::cylinder(0.15, 0.07)
                .rotation(Vector::new(std::f32::consts::FRAC_PI_2, 0.0, 0.0))
                .collision_groups(groups(G_ARM, G_OBJECT)),
            pillar,
            &mut bodies,
        );
        labels.insert(pillar_collider, Label::arm_base());
    } else {
        // A description's base link and the links fixed to it.
        let base_body = bodies.insert(RigidBodyBuilder::fixed().pose(to_pose(&base)));
        for (_, local, shape) in robot.fixed_parts() {
            let c = colliders.insert_with_parent(
                ColliderBuilder::new(shape.clone())
                    .position(to_pose(local))
                    .collision_groups(groups(G_ARM, G_OBJECT)),
                base_body,
                &mut bodies,
            );
            labels.insert(c, Label::arm_base());
        }
    }

    let render_model = RenderModel::build(&colliders, &labels);
    Ok(Assembly {
        bodies,
        colliders,
        table_collider,
        objects,
        parts,
        part_bodies,
        finger_colliders,
        kinematics,
        render_model,
    })
}

/// FNV-1a, for per-object seeds that do not depend on the standard library's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Part;

    #[test]
    fn every_collider_is_labelled_once() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenes");
        let scene = Scene::load(dir.join("tabletop.toml")).unwrap_or_else(|e| panic!("{e}"));
        let robot = Robot::builtin(Isometry3::identity());
        let a = assemble(&scene, 0, &robot).unwrap_or_else(|(o, e)| panic!("{o}: {e}"));
        let labelled: Vec<_> = a.render_model.meshes.iter().map(|m| m.collider).collect();
        let all: Vec<_> = a.colliders.iter().map(|(h, _)| h).collect();
        assert_eq!(labelled, all, "one mesh per collider, in insertion order");
        let parts: Vec<Part> = a.render_model.meshes.iter().map(|m| m.label.part).collect();
        assert_eq!(parts.iter().filter(|p| **p == Part::Table).count(), 1);
        for i in 0..scene.objects.len() {
            assert_eq!(
                parts.iter().filter(|p| **p == Part::Object(i)).count(),
                1,
                "object {i}"
            );
        }
        assert_eq!(
            parts
                .iter()
                .filter(|p| matches!(p, Part::ArmPart(_)))
                .count(),
            a.parts.len()
        );
        assert_eq!(parts.last(), Some(&Part::ArmBase));
    }

    #[test]
    fn object_seeds_are_stable() {
        // The per-object stream must not change: scenes' poses (and golden traces)
        // depend on it.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
