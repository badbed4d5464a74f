//! The world as another engine needs it to build the same tabletop: the table, the
//! arm's base, and each object's pose, mass, friction and collision parts (boxes,
//! z-up cylinders, spheres and convex hulls in the object's frame). `cap world` prints
//! it as JSON; the PyBullet reference arm builds its scene from it, so that a program
//! checked in cap's simulation meets the same layout on the "real" arm.
//!
//! Also the inverse for judging: [`World::place_objects`] puts objects where another
//! engine (or a robot's perception) says they are, so a task's success predicate can
//! be evaluated on poses cap did not simulate.

use cap_core::failure::{Failure, FailureKind};
use cap_core::nalgebra::{Isometry3, UnitQuaternion, Vector3};
use cap_core::remote::ReportedObject;
use cap_core::scene::{ArmSource, ObjectSpec};
use rapier3d::parry::shape::{SharedShape, TypedShape};

use crate::convert::{from_pose, to_point};
use crate::world::World;

/// One collision part's shape, in its part frame.
#[derive(Debug, Clone, PartialEq)]
pub enum PartShape {
    /// A box with these half extents.
    Box {
        /// Half extents, metres.
        half_extents: Vector3<f64>,
    },
    /// A cylinder standing along its frame's z.
    Cylinder {
        /// Radius, metres.
        radius: f64,
        /// Half height, metres.
        half_height: f64,
    },
    /// A sphere.
    Sphere {
        /// Radius, metres.
        radius: f64,
    },
    /// The convex hull of these points.
    Convex {
        /// Hull vertices, metres, in the part frame.
        vertices: Vec<Vector3<f64>>,
    },
}

/// One collision part of an object: a shape at a pose in the object's frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// The shape.
    pub shape: PartShape,
    /// Its pose in the object's frame (origin at the bounding-box centre).
    pub pose: Isometry3<f64>,
}

/// One object as laid out now.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectLayout {
    /// What the scene says of it (name, kind, colour, size, mass, friction, ...).
    pub spec: ObjectSpec,
    /// Pose of the bounding-box centre, world frame.
    pub pose: Isometry3<f64>,
    /// Collision parts, object frame.
    pub parts: Vec<Part>,
}

/// The whole tabletop as laid out now.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// `builtin` for the built-in Panda, else the catalogue name or the URDF path.
    pub arm: String,
    /// The arm's base, world frame.
    pub base_m: [f64; 3],
    /// The arm's base yaw, radians.
    pub base_yaw_rad: f64,
    /// Table size (full extents), metres; its top is at z = 0.
    pub table_size_m: [f64; 3],
    /// Table centre (x, y), metres.
    pub table_center_m: [f64; 2],
    /// Table friction.
    pub table_friction: f64,
    /// The objects, in scene order.
    pub objects: Vec<ObjectLayout>,
}

impl World {
    /// The tabletop as laid out now (after the seed's randomisation and whatever has
    /// moved since).
    pub fn layout(&self) -> Layout {
        let s = &self.scene;
        let arm = match &s.robot.arm {
            ArmSource::Builtin => "builtin".to_owned(),
            ArmSource::Catalogue(name) => name.clone(),
            ArmSource::Urdf(u) => u.urdf.display().to_string(),
        };
        let states = self.object_states();
        let objects = s
            .objects
            .iter()
            .zip(&self.objects)
            .zip(states)
            .map(|((spec, ob), state)| ObjectLayout {
                spec: spec.clone(),
                pose: state.pose,
                parts: self
                    .colliders
                    .get(ob.collider)
                    .map(|c| collision_parts(c.shared_shape()))
                    .unwrap_or_default(),
            })
            .collect();
        Layout {
            arm,
            base_m: s.robot.base_m.coords.into(),
            base_yaw_rad: s.robot.base_yaw_rad,
            table_size_m: s.table.size_m.into(),
            table_center_m: [s.table.center_m.x, s.table.center_m.y],
            table_friction: s.table.friction,
            objects,
        }
    }

    /// Put each of `objects` at its reported pose, at rest (one physics step follows,
    /// so contacts are current for the predicates). An object the scene does not have,
    /// or a pose that is not finite, is an error naming the object.
    pub fn place_objects(&mut self, objects: &[ReportedObject]) -> Result<(), Failure> {
        for o in objects {
            let finite = o.pose.translation.vector.iter().all(|v| v.is_finite())
                && o.pose.rotation.coords.iter().all(|v| v.is_finite());
            if !finite {
                return Err(Failure::with_object(
                    FailureKind::InvalidArgument,
                    format!("the pose of `{}` is not finite", o.name),
                    o.name.clone(),
                ));
            }
            if self.object_index(&o.name).is_none() {
                let known: Vec<&str> = self.scene.objects.iter().map(|o| o.name.as_str()).collect();
                return Err(Failure::with_object(
                    FailureKind::UnknownObject,
                    format!(
                        "no object `{}` in the scene (its objects: {})",
                        o.name,
                        known.join(", ")
                    ),
                    o.name.clone(),
                ));
            }
        }
        let held = self.held.as_ref().map(|h| h.object);
        if held.is_some_and(|i| {
            objects
                .iter()
                .any(|o| self.object_index(&o.name) == Some(i))
        }) {
            self.release();
        }
        for o in objects {
            if let Some(i) = self.object_index(&o.name) {
                self.set_object_pose(i, &o.pose);
            }
        }
        self.step_physics();
        Ok(())
    }
}

/// A parry shape as parts in its own frame: compounds are flattened, parry's y-up
/// cylinders turned to stand along z, convex polyhedra given by their points. Shapes
/// cap never builds for objects (capsules, meshes, ...) are left out.
pub fn collision_parts(shape: &SharedShape) -> Vec<Part> {
    let mut out = Vec::new();
    push_parts(shape, &Isometry3::identity(), &mut out);
    out
}

fn push_parts(shape: &SharedShape, at: &Isometry3<f64>, out: &mut Vec<Part>) {
    let part = |shape| Part { shape, pose: *at };
    match shape.as_typed_shape() {
        TypedShape::Cuboid(c) => out.push(part(PartShape::Box {
            half_extents: to_point(c.half_extents).coords,
        })),
        TypedShape::Ball(b) => out.push(part(PartShape::Sphere {
            radius: f64::from(b.radius),
        })),
        TypedShape::Cylinder(c) => out.push(Part {
            shape: PartShape::Cylinder {
                radius: f64::from(c.radius),
                half_height: f64::from(c.half_height),
            },
            // The part frame's z is parry's y: rotate -90° about x.
            pose: at
                * UnitQuaternion::from_axis_angle(&Vector3::x_axis(), -std::f64::consts::FRAC_PI_2),
        }),
        TypedShape::ConvexPolyhedron(c) => out.push(part(PartShape::Convex {
            vertices: c.points().iter().map(|p| to_point(*p).coords).collect(),
        })),
        TypedShape::Compound(c) => {
            for (pose, sub) in c.shapes() {
                push_parts(sub, &(at * from_pose(pose)), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use cap_core::nalgebra::Translation3;
    use std::sync::Arc;

    fn tabletop() -> World {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenes/tabletop.toml");
        let scene = cap_core::scene::Scene::load(std::path::Path::new(path)).unwrap();
        World::new(Arc::new(scene), 3).unwrap()
    }

    #[test]
    fn layout_has_every_object_with_parts_that_fill_its_box() {
        let w = tabletop();
        let l = w.layout();
        assert_eq!(l.arm, "builtin");
        assert_eq!(l.objects.len(), w.scene().objects.len());
        let block = l
            .objects
            .iter()
            .find(|o| o.spec.name == "red_block")
            .unwrap();
        assert_eq!(block.parts.len(), 1);
        let PartShape::Box { half_extents } = &block.parts[0].shape else {
            panic!("a block is one box: {:?}", block.parts[0]);
        };
        assert!((half_extents - Vector3::new(0.02, 0.02, 0.02)).norm() < 1e-6);
        // The seed moved it from its nominal place, and the layout says where to.
        let state = w
            .object_states()
            .into_iter()
            .find(|o| o.name == "red_block")
            .unwrap();
        assert_eq!(block.pose, state.pose);
        let bowl = l
            .objects
            .iter()
            .find(|o| o.spec.name == "yellow_bowl")
            .unwrap();
        // A base cylinder standing along z, and the ring of wall boxes.
        let PartShape::Cylinder { radius, .. } = bowl.parts[0].shape else {
            panic!("the bowl's first part is its base: {:?}", bowl.parts[0]);
        };
        assert!((radius - 0.07).abs() < 1e-6);
        assert!(bowl.parts[0].pose.rotation.angle() < 1e-6, "z-up already");
        assert!(bowl.parts.len() > 8);
        for p in &bowl.parts[1..] {
            let r = p.pose.translation.vector.xy().norm();
            assert!(r > 0.05 && r < 0.07, "a wall part at r = {r}");
        }
    }

    #[test]
    fn placed_objects_are_judged_where_they_were_placed() {
        let mut w = tabletop();
        let plate = w
            .object_states()
            .into_iter()
            .find(|o| o.name == "blue_plate")
            .unwrap();
        assert!(!w.is_on("red_block", "blue_plate").unwrap());
        let top = plate.aabb_min.z + 0.006 + 0.02;
        let on_plate = Isometry3::from_parts(
            Translation3::new(plate.pose.translation.x, plate.pose.translation.y, top),
            UnitQuaternion::identity(),
        );
        w.place_objects(&[ReportedObject {
            name: "red_block".into(),
            pose: on_plate,
        }])
        .unwrap();
        assert!(w.is_on("red_block", "blue_plate").unwrap());
        let moved = w
            .object_states()
            .into_iter()
            .find(|o| o.name == "red_block")
            .unwrap();
        assert!((moved.pose.translation.vector - on_plate.translation.vector).norm() < 0.005);
    }

    #[test]
    fn placing_an_unknown_or_non_finite_object_names_it() {
        let mut w = tabletop();
        let e = w
            .place_objects(&[ReportedObject {
                name: "purple_cow".into(),
                pose: Isometry3::identity(),
            }])
            .unwrap_err();
        assert_eq!(e.kind, FailureKind::UnknownObject);
        assert!(e.message.contains("purple_cow") && e.message.contains("red_block"));
        let e = w
            .place_objects(&[ReportedObject {
                name: "red_block".into(),
                pose: Isometry3::translation(f64::NAN, 0.0, 0.0),
            }])
            .unwrap_err();
        assert_eq!(e.kind, FailureKind::InvalidArgument);
    }
}
