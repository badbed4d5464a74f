//! Grasp choice: the ways the gripper can take an object from above, in the order
//! `pick` tries them, and what a program may ask for.
//!
//! - Boxes: across either pair of faces (the narrower first), each at the two wrist
//!   yaws that close across it (the one nearest the gripper's natural yaw first).
//! - Cylinders and balls: at wrist yaws 0°, 90°, −90° and 180°.
//! - Bowls and plates (too wide to close around): straddling the wall at the rim point
//!   facing the robot, then left, right and far.
//!
//! `pick` takes the first candidate whose approach and descent are clear, so a ball next
//! to a tall can is taken with the hand turned along the gap rather than refused.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};

use cap_core::failure::{Failure, FailureKind};
use cap_core::kinematics::top_down;
use cap_core::math;
use cap_core::nalgebra::{Isometry3, Translation3, Vector2};
use cap_core::scene::ObjectKind;

use crate::geometry::{FINGERTIP_BEYOND_TCP_M, WALL_M};
use crate::query::ObjectState;
use crate::world::World;

/// How much narrower than the gripper's opening an object must be to be closed around.
pub const GRASP_WIDTH_MARGIN_M: f64 = 0.004;
/// A box's grasp yaws are a quarter turn apart: a requested yaw takes the one (or, at
/// exactly 45° between them, the two) within an eighth of a turn of it.
const BOX_YAW_TOLERANCE_RAD: f64 = FRAC_PI_4 + 1e-9;

/// A side of an object, as seen from the robot (world frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// −x, toward the robot.
    Front,
    /// +x, away from the robot.
    Back,
    /// +y.
    Left,
    /// −y.
    Right,
}

impl Side {
    /// Names, in documentation order.
    pub const ALL: [(&'static str, Side); 4] = [
        ("front", Side::Front),
        ("back", Side::Back),
        ("left", Side::Left),
        ("right", Side::Right),
    ];

    /// Parse a side name.
    pub fn parse(s: &str) -> Option<Side> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, v)| *v)
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("front", |(n, _)| n)
    }
}

/// What a program asks of a grasp; empty: `pick` chooses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraspRequest {
    /// The wrist yaw (fingers close along world `(−sin yaw, cos yaw, 0)`), radians.
    pub yaw_rad: Option<f64>,
    /// Which rim point of a bowl or plate.
    pub side: Option<Side>,
    /// Which named point of a mesh object (`grasp_points` in the scene: "handle").
    pub point: Option<String>,
}

/// One way to grasp an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Grasp {
    /// Where the tool centre point goes.
    pub tcp: Isometry3<f64>,
    /// The object's extent between the fingers, metres.
    pub across_m: f64,
    /// The wrist yaw, radians.
    pub yaw_rad: f64,
    /// What it is, for the trace: `yaw 90°`, `rim left`.
    pub label: String,
}

/// Wrap an angle to (−π, π].
pub(crate) fn wrap(a: f64) -> f64 {
    let mut a = (a + PI).rem_euclid(2.0 * PI) - PI;
    if a <= -PI {
        a += 2.0 * PI;
    }
    a
}

fn degrees(yaw_rad: f64) -> i64 {
    yaw_rad.to_degrees().round() as i64
}

impl World {
    /// The grasps of object `name` that fit `request`, in the order `pick` tries them.
    pub fn grasp_candidates(
        &self,
        name: &str,
        request: &GraspRequest,
    ) -> Result<Vec<Grasp>, Failure> {
        let o = self.object(name)?;
        if let Some(y) = request.yaw_rad {
            if !y.is_finite() {
                return Err(Failure::with_object(
                    FailureKind::InvalidArgument,
                    format!("pick({name}): yaw must be a finite number, got {y}"),
                    name,
                ));
            }
        }
        if request.point.is_some() && o.kind != ObjectKind::Mesh {
            return Err(Failure::with_object(
                FailureKind::InvalidArgument,
                format!(
                    "pick({name}): `point` chooses a named grasp point of a mesh object; {name} is a {}",
                    o.kind.noun()
                ),
                name,
            ));
        }
        let receptacle = o.kind.is_receptacle();
        if request.side.is_some() && !receptacle {
            return Err(Failure::with_object(
                FailureKind::InvalidArgument,
                format!(
                    "pick({name}): `side` chooses a rim point of a bowl or plate; {name} is a {}",
                    o.kind.noun()
                ),
                name,
            ));
        }
        let grasps = match o.kind {
            ObjectKind::Box => self.box_grasps(&o, request)?,
            ObjectKind::Cylinder | ObjectKind::Sphere => {
                let yaws = match request.yaw_rad {
                    Some(y) => vec![wrap(y), wrap(y + PI)],
                    None => vec![0.0, FRAC_PI_2, -FRAC_PI_2, PI],
                };
                let low = self.grasp_height(&o);
                let c = o.position();
                yaws.into_iter()
                    .map(|yaw| Grasp {
                        tcp: Isometry3::from_parts(Translation3::new(c.x, c.y, low), top_down(yaw)),
                        across_m: o.size_m.x,
                        yaw_rad: yaw,
                        label: format!("yaw {}°", degrees(yaw)),
                    })
                    .collect()
            }
            ObjectKind::Bowl | ObjectKind::Plate => self.rim_grasps(&o, request),
            ObjectKind::Mesh => {
                let spec = self.scene.object(name).cloned();
                match spec {
                    Some(spec) => self.mesh_grasps(&o, &spec, request)?,
                    None => Vec::new(),
                }
            }
        };
        let widest = self.max_grasp_width_m();
        let fitting: Vec<Grasp> = grasps
            .into_iter()
            .filter(|g| g.across_m <= widest)
            .collect();
        if fitting.is_empty() {
            let across = o.size_m.x.min(o.size_m.y);
            return Err(Failure::with_object(
                FailureKind::NoGrasp,
                format!(
                    "{name} is {across:.3} m across, wider than the gripper opens ({widest:.3} m)"
                ),
                name,
            ));
        }
        Ok(fitting)
    }

    /// Widest object the gripper can close around, metres.
    pub fn max_grasp_width_m(&self) -> f64 {
        self.robot.gripper_max_width_m() - GRASP_WIDTH_MARGIN_M
    }

    /// Height of the TCP for a grasp of a closed object: its centre, kept above the
    /// table by the fingertips and below its top.
    fn grasp_height(&self, o: &ObjectState) -> f64 {
        let low = o.aabb_min.z + FINGERTIP_BEYOND_TCP_M + 0.004;
        o.position().z.max(low).min(o.aabb_max.z - 0.004)
    }

    fn box_grasps(&self, o: &ObjectState, request: &GraspRequest) -> Result<Vec<Grasp>, Failure> {
        let obj_yaw = o.yaw_rad();
        // Closing along the object's y closes across its x faces... across size.y.
        let mut pairs = [(o.size_m.y, obj_yaw), (o.size_m.x, obj_yaw + FRAC_PI_2)];
        if o.size_m.x < o.size_m.y {
            pairs.swap(0, 1);
        }
        let z = self.grasp_height(o);
        let c = o.position();
        let mut out = Vec::new();
        for (across, base) in pairs {
            // Of the two yaws that close across this pair, the one the wrist turns least
            // to (nearest 0) first.
            let mut yaws = [wrap(base), wrap(base + PI)];
            if yaws[1].abs() < yaws[0].abs() {
                yaws.swap(0, 1);
            }
            for yaw in yaws {
                if let Some(want) = request.yaw_rad {
                    if wrap(yaw - want).abs() > BOX_YAW_TOLERANCE_RAD {
                        continue;
                    }
                }
                out.push(Grasp {
                    tcp: Isometry3::from_parts(Translation3::new(c.x, c.y, z), top_down(yaw)),
                    across_m: across,
                    yaw_rad: yaw,
                    label: format!("yaw {}° across {:.0} mm", degrees(yaw), across * 1000.0),
                });
            }
        }
        if out.is_empty() {
            let faces: Vec<String> = pairs
                .iter()
                .flat_map(|(_, b)| [wrap(*b), wrap(b + PI)])
                .map(|y| format!("{}°", degrees(y)))
                .collect();
            return Err(Failure::with_object(
                FailureKind::InvalidArgument,
                format!(
                    "pick({}): a box is grasped across its faces, at yaw {} (asked for {}°)",
                    o.name,
                    faces.join(", "),
                    request.yaw_rad.map_or(0, degrees)
                ),
                o.name.as_str(),
            ));
        }
        Ok(out)
    }

    fn rim_grasps(&self, o: &ObjectState, request: &GraspRequest) -> Vec<Grasp> {
        let c = o.position().xy().coords;
        let base = self.kinematics.world_from_base().translation.vector.xy();
        let to_base = base - c;
        let front = if to_base.norm() > 1e-6 {
            to_base.normalize()
        } else {
            -Vector2::x()
        };
        // The robot-facing point, then the sides and the far point, each as a direction
        // from the centre; a requested side is the world direction it names.
        let left = Vector2::new(-front.y, front.x);
        let dirs: Vec<(String, Vector2<f64>)> = match request.side {
            Some(side) => {
                let d = match side {
                    Side::Front => -Vector2::x(),
                    Side::Back => Vector2::x(),
                    Side::Left => Vector2::y(),
                    Side::Right => -Vector2::y(),
                };
                vec![(format!("rim {}", side.name()), d)]
            }
            None => vec![
                ("rim facing the robot".to_owned(), front),
                ("rim left of it".to_owned(), left),
                ("rim right of it".to_owned(), -left),
                ("rim far from the robot".to_owned(), -front),
            ],
        };
        let r = o.size_m.x / 2.0 - WALL_M / 2.0;
        let low = o.aabb_min.z + FINGERTIP_BEYOND_TCP_M + 0.004;
        let z = (o.aabb_max.z - 0.012).max(low);
        dirs.into_iter()
            .map(|(label, dir)| {
                // Fingers close along the radius, across the wall; of the two yaws that
                // do, the one nearer 0.
                let mut yaw = wrap(math::atan2(-dir.x, dir.y));
                if yaw.abs() > FRAC_PI_2 {
                    yaw = wrap(yaw + PI);
                }
                let p = c + dir * r;
                Grasp {
                    tcp: Isometry3::from_parts(Translation3::new(p.x, p.y, z), top_down(yaw)),
                    across_m: WALL_M,
                    yaw_rad: yaw,
                    label,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_stays_in_the_half_open_circle() {
        for (a, w) in [
            (0.0, 0.0),
            (PI, PI),
            (-PI, PI),
            (3.0 * PI, PI),
            (-FRAC_PI_2, -FRAC_PI_2),
        ] {
            assert!((wrap(a) - w).abs() < 1e-12, "{a}");
        }
    }

    #[test]
    fn sides_parse_by_name() {
        for (n, s) in Side::ALL {
            assert_eq!(Side::parse(n), Some(s));
            assert_eq!(s.name(), n);
        }
        assert_eq!(Side::parse(" Left "), Some(Side::Left));
        assert_eq!(Side::parse("up"), None);
    }
}
