//! Geometric queries over the current world state: object states, functional points,
//! `find` by description, and the spatial predicates (`is_on`, `is_in`, `distance`).
//! Success predicates and the script API both use these, so they agree by construction.

use cap_core::failure::{Failure, FailureKind};
use cap_core::nalgebra::{Isometry3, Point3, Vector3};
use cap_core::scene::ObjectKind;
use cap_core::selection::{Measure, Selection, SelectionError};

use crate::convert::{from_pose, to_point};
use crate::geometry::{base_thickness_m, inner_radius_m};
use crate::world::World;

/// Vertical slack when deciding that one object rests on another, metres.
const ON_BELOW_M: f64 = 0.012;
const ON_ABOVE_M: f64 = 0.02;

/// Where an object is now.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectState {
    /// Name.
    pub name: String,
    /// Shape family.
    pub kind: ObjectKind,
    /// Colour name.
    pub color: String,
    /// Pose of the bounding-box centre.
    pub pose: Isometry3<f64>,
    /// World-aligned bounding box, lower corner.
    pub aabb_min: Point3<f64>,
    /// World-aligned bounding box, upper corner.
    pub aabb_max: Point3<f64>,
    /// Full extents in the object frame.
    pub size_m: Vector3<f64>,
    /// Whether the gripper holds it.
    pub held: bool,
}

impl ObjectState {
    /// Centre position.
    pub fn position(&self) -> Point3<f64> {
        Point3::from(self.pose.translation.vector)
    }
    /// Yaw about world z, radians.
    pub fn yaw_rad(&self) -> f64 {
        let x = self.pose.rotation * Vector3::x();
        cap_core::math::atan2(x.y, x.x)
    }
    /// True when the object's z axis is within 30° of vertical.
    pub fn upright(&self) -> bool {
        (self.pose.rotation * Vector3::z()).z > cap_core::math::cos(30f64.to_radians())
    }
}

/// A functional point of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Centre of the top of the bounding box.
    Top,
    /// Bounding-box centre.
    Center,
    /// Centre of the bottom of the bounding box.
    Bottom,
    /// Where things put on or in it go: a receptacle's floor, otherwise its top.
    Inside,
    /// The +y side at mid-height.
    Left,
    /// The −y side.
    Right,
    /// The −x side (toward the robot).
    Front,
    /// The +x side (away from the robot).
    Back,
}

impl Which {
    /// All points, in documentation order.
    pub const ALL: [(&'static str, Which); 8] = [
        ("top", Which::Top),
        ("center", Which::Center),
        ("bottom", Which::Bottom),
        ("inside", Which::Inside),
        ("left", Which::Left),
        ("right", Which::Right),
        ("front", Which::Front),
        ("back", Which::Back),
    ];

    /// Parse a point name.
    pub fn parse(s: &str) -> Option<Which> {
        let s = s.trim().to_ascii_lowercase();
        let s = if s == "centre" {
            "center".to_owned()
        } else {
            s
        };
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, w)| *w)
    }
}

fn unknown_object(world: &World, name: &str) -> Failure {
    Failure::with_object(
        FailureKind::UnknownObject,
        format!(
            "no object named `{name}`; objects are: {}",
            world.scene.object_names().join(", ")
        ),
        name,
    )
}

impl World {
    /// The state of the object called `name`.
    pub fn object(&self, name: &str) -> Result<ObjectState, Failure> {
        let i = self
            .object_index(name)
            .ok_or_else(|| unknown_object(self, name))?;
        self.object_state(i)
            .ok_or_else(|| unknown_object(self, name))
    }

    pub(crate) fn object_state(&self, i: usize) -> Option<ObjectState> {
        let spec = self.scene.objects.get(i)?;
        let ob = self.objects.get(i)?;
        let body = self.bodies.get(ob.body)?;
        let collider = self.colliders.get(ob.collider)?;
        let aabb = if spec.kind == ObjectKind::Mesh {
            tight_aabb(collider)
        } else {
            collider.compute_aabb()
        };
        Some(ObjectState {
            name: spec.name.clone(),
            kind: spec.kind,
            color: spec.color.clone(),
            pose: from_pose(body.position()),
            aabb_min: to_point(aabb.mins),
            aabb_max: to_point(aabb.maxs),
            size_m: spec.size_m,
            held: self.held.as_ref().is_some_and(|h| h.object == i),
        })
    }

    /// Every object's state, in scene order.
    pub fn object_states(&self) -> Vec<ObjectState> {
        (0..self.objects.len())
            .filter_map(|i| self.object_state(i))
            .collect()
    }

    /// World height things resting on `o` sit at: a receptacle's floor, else its top.
    pub fn support_height(&self, o: &ObjectState) -> f64 {
        match o.kind {
            ObjectKind::Bowl | ObjectKind::Plate => {
                let spec = self.scene.object(&o.name);
                o.aabb_min.z + spec.map_or(0.005, base_thickness_m)
            }
            _ => o.aabb_max.z,
        }
    }

    /// The named point `point` of mesh object `name` (its scene's `grasp_points`), in
    /// the world.
    pub fn named_point(&self, name: &str, point: &str) -> Result<Point3<f64>, Failure> {
        let o = self.object(name)?;
        let spec = self.scene.object(name);
        match spec.and_then(|s| s.grasp_point(point)) {
            Some(p) => Ok(o.pose * p),
            None => {
                let named: Vec<&str> = spec
                    .and_then(|s| s.mesh.as_ref())
                    .map(|m| m.grasp_points.iter().map(|(n, _)| n.as_str()).collect())
                    .unwrap_or_default();
                let builtin: Vec<&str> = Which::ALL.iter().map(|(n, _)| *n).collect();
                Err(Failure::with_object(
                    FailureKind::InvalidArgument,
                    format!(
                        "point: unknown point `{point}` of {name}; use one of {}{}",
                        builtin.join(", "),
                        if named.is_empty() {
                            String::new()
                        } else {
                            format!(", or its named points {}", named.join(", "))
                        }
                    ),
                    name,
                ))
            }
        }
    }

    /// A functional point of the object called `name`.
    pub fn point(&self, name: &str, which: Which) -> Result<Point3<f64>, Failure> {
        let o = self.object(name)?;
        let c = o.position();
        let mid = 0.5 * (o.aabb_min.z + o.aabb_max.z);
        Ok(match which {
            Which::Top => Point3::new(c.x, c.y, o.aabb_max.z),
            Which::Center => c,
            Which::Bottom => Point3::new(c.x, c.y, o.aabb_min.z),
            Which::Inside => Point3::new(c.x, c.y, self.support_height(&o)),
            Which::Left => Point3::new(c.x, o.aabb_max.y, mid),
            Which::Right => Point3::new(c.x, o.aabb_min.y, mid),
            Which::Front => Point3::new(o.aabb_min.x, c.y, mid),
            Which::Back => Point3::new(o.aabb_max.x, c.y, mid),
        })
    }

    /// Names of objects matching a description such as "red block", "bowl", "green",
    /// "the biggest block", "blocks that are not red" (cap_core::selection), or an
    /// exact name; scene order. Nothing for a description that cannot be read.
    pub fn find_all(&self, description: &str) -> Vec<String> {
        self.select(description).unwrap_or_default()
    }

    /// [`World::find_all`], with the reason a description could not be read.
    pub fn select(&self, description: &str) -> Result<Vec<String>, SelectionError> {
        if let Some(o) = self
            .scene
            .objects
            .iter()
            .find(|o| o.name == description.trim())
        {
            return Ok(vec![o.name.clone()]);
        }
        // The same reading of descriptions as checkpoint statements (cap_core::vocabulary).
        // One that names neither a colour nor a kind matches nothing.
        let nouns: Vec<&str> = self
            .scene
            .objects
            .iter()
            .filter(|o| o.mesh.is_some())
            .map(|o| o.noun())
            .collect();
        let sel = Selection::parse_words_with(&cap_core::vocabulary::words(description), &nouns)?;
        if !sel.is_specific() {
            return Ok(Vec::new());
        }
        // Live sizes and positions: "the leftmost block" is the leftmost now.
        let measure = |o: &cap_core::scene::ObjectSpec| match self.object(&o.name) {
            Ok(s) => Measure {
                size: s.size_m.into(),
                position: s.position().coords.into(),
            },
            Err(_) => Measure {
                size: o.size_m.into(),
                position: o.position_m.coords.into(),
            },
        };
        sel.select(&self.scene.objects, measure, self.reach().base_xy_m, &nouns)
    }

    /// The one object matching a description; an error if none or several match.
    pub fn find(&self, description: &str) -> Result<String, Failure> {
        // A word that is neither a colour nor a kind matches nothing, as before; a
        // superlative or "not" that cannot be applied says why.
        let all = match self.select(description) {
            Ok(all) => all,
            Err(SelectionError::Description(_)) => Vec::new(),
            Err(e) => {
                return Err(Failure::new(
                    FailureKind::InvalidArgument,
                    format!("find(\"{description}\"): {e}"),
                ))
            }
        };
        match all.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(Failure::new(
                FailureKind::UnknownObject,
                format!(
                    "nothing matches `{description}`; objects are: {}",
                    self.scene.object_names().join(", ")
                ),
            )),
            many => Err(Failure::new(
                FailureKind::InvalidArgument,
                format!("`{description}` is ambiguous: {}", many.join(", ")),
            )),
        }
    }

    /// Whether `a` rests on `b`: its bottom at `b`'s support height and its centre
    /// over `b`'s footprint, and not held.
    pub fn is_on(&self, a: &str, b: &str) -> Result<bool, Failure> {
        let (oa, ob) = (self.object(a)?, self.object(b)?);
        if a == b || oa.held {
            return Ok(false);
        }
        let support = self.support_height(&ob);
        let vertical =
            oa.aabb_min.z >= support - ON_BELOW_M && oa.aabb_min.z <= support + ON_ABOVE_M;
        Ok(vertical && self.over_footprint(&oa, &ob, 0.0) && oa.position().z > ob.position().z)
    }

    /// Whether `a` is inside receptacle `b` (a bowl or plate): centre within its inner
    /// radius and bottom below its rim. Always false for a non-receptacle `b`.
    pub fn is_in(&self, a: &str, b: &str) -> Result<bool, Failure> {
        let (oa, ob) = (self.object(a)?, self.object(b)?);
        if a == b || oa.held || !ob.kind.is_receptacle() {
            return Ok(false);
        }
        if ob.kind == ObjectKind::Plate {
            return self.is_on(a, b);
        }
        let inner = self.scene.object(b).map_or(0.0, inner_radius_m);
        let d = oa.pose.translation.vector.xy() - ob.pose.translation.vector.xy();
        Ok(d.norm() <= inner
            && oa.aabb_min.z >= ob.aabb_min.z - 0.005
            && oa.aabb_min.z <= ob.aabb_max.z)
    }

    /// Distance between the centres of two objects, metres.
    pub fn distance(&self, a: &str, b: &str) -> Result<f64, Failure> {
        let (oa, ob) = (self.object(a)?, self.object(b)?);
        Ok((oa.position() - ob.position()).norm())
    }

    fn over_footprint(&self, a: &ObjectState, b: &ObjectState, margin: f64) -> bool {
        let local = b.pose.inverse() * a.position();
        match b.kind {
            ObjectKind::Box => {
                local.x.abs() <= b.size_m.x / 2.0 + margin
                    && local.y.abs() <= b.size_m.y / 2.0 + margin
            }
            _ => local.xy().coords.norm() <= b.size_m.x / 2.0 + margin,
        }
    }
}

/// The bounding box of a compound collider as the union of its parts' own boxes at
/// the collider's pose: exact for convex parts, where the compound's box (its local box
/// turned) grows by up to √3 for a tipped object. Used for mesh objects, which come to
/// rest in any orientation.
fn tight_aabb(c: &rapier3d::prelude::Collider) -> rapier3d::parry::bounding_volume::Aabb {
    use rapier3d::parry::bounding_volume::BoundingVolume;
    let pose = c.position();
    match c.shape().as_compound() {
        Some(compound) => compound
            .shapes()
            .iter()
            .map(|(p, s)| s.compute_aabb(&(*pose * *p)))
            .reduce(|a, b| a.merged(&b))
            .unwrap_or_else(|| c.compute_aabb()),
        None => c.compute_aabb(),
    }
}
