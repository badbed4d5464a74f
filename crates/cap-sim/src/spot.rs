//! Where `place_on` sets an object down on a receptacle that already holds things.
//!
//! "Put the red and the blue blocks on the plate" means both on the plate's surface,
//! not the blue one on the red one. So `place_on(x, plate_or_bowl)` aims at the
//! receptacle's centre when that is clear, and otherwise at the clear spot nearest it:
//! the held object's footprint, widened along the fingers' closing axis by the open
//! fingers (they open on release), must stay inside the rim and clear every object
//! already resting there. Only when no such spot exists does it aim at the centre, as
//! before. Blocks and other targets are stacked on at their centre, as asked.

use cap_core::nalgebra::{Point2, Vector2};

use crate::footprint::{Footprints, CLEARANCE_M, FINGER_M};
use crate::geometry::inner_radius_m;
use crate::query::ObjectState;
use crate::world::World;

/// Radial step of the search, metres.
const RING_STEP_M: f64 = 0.005;
/// Directions tried on each ring.
const DIRECTIONS: usize = 24;

/// The held object's footprint for the search: a rectangle in the tool's frame.
struct Footprint {
    /// Unit vector of the fingers' closing axis, in the table plane.
    closing: Vector2<f64>,
    /// Half-length along the closing axis (the open fingers).
    along: f64,
    /// Half-width across it (the object).
    across: f64,
}

impl Footprint {
    /// Whether a disc of radius `r` at `c` (relative to the footprint's centre) keeps
    /// `gap` clear of the rectangle.
    fn clears(&self, c: Vector2<f64>, r: f64, gap: f64) -> bool {
        let u = c.dot(&self.closing).abs();
        let v = (c.x * self.closing.y - c.y * self.closing.x).abs();
        let du = (u - self.along).max(0.0);
        let dv = (v - self.across).max(0.0);
        (du * du + dv * dv).sqrt() >= r + gap
    }
}

/// A disc covering an object's world-aligned bounding box in the table plane.
fn disc(o: &ObjectState) -> (Point2<f64>, f64) {
    let c = Point2::new(
        (o.aabb_min.x + o.aabb_max.x) / 2.0,
        (o.aabb_min.y + o.aabb_max.y) / 2.0,
    );
    let r = (o.aabb_max.x - o.aabb_min.x).max(o.aabb_max.y - o.aabb_min.y) / 2.0;
    (c, r)
}

impl World {
    /// Every object not held, as a disc in the table plane.
    pub fn footprints(&self) -> Footprints {
        Footprints {
            discs: self
                .scene
                .object_names()
                .iter()
                .filter_map(|n| self.object(n).ok())
                .filter(|o| !o.held)
                .map(|o| {
                    let (c, r) = disc(&o);
                    (o.name.clone(), c, r)
                })
                .collect(),
        }
    }

    /// The objects resting on or in receptacle `target` (not `held`): their centre
    /// within its rim, their bottom between its floor and just above its top.
    pub fn occupants(&self, target: &ObjectState, held: &str) -> Vec<ObjectState> {
        let (tc, tr) = disc(target);
        self.scene
            .object_names()
            .iter()
            .filter(|n| *n != held && **n != target.name)
            .filter_map(|n| self.object(n).ok())
            .filter(|o| {
                let (c, _) = disc(o);
                (c - tc).norm() < tr
                    && o.aabb_min.z > target.aabb_min.z - 0.005
                    && o.aabb_min.z < target.aabb_max.z + 0.01
            })
            .collect()
    }

    /// Where on receptacle `target` to set the held object `held` down (the module's
    /// rule): the centre if it is clear, else the clear spot nearest the centre, else
    /// the centre. Returns the spot in the table plane.
    pub fn free_spot(&self, target: &ObjectState, held: &ObjectState) -> Point2<f64> {
        let centre = target.position().xy();
        let occupants = self.occupants(target, &held.name);
        if occupants.is_empty() {
            return centre;
        }
        let y = self.tcp().rotation * cap_core::nalgebra::Vector3::y();
        let closing = Vector2::new(y.x, y.y)
            .try_normalize(1e-9)
            .unwrap_or_else(Vector2::y);
        let half = held.size_m.x.max(held.size_m.y) / 2.0;
        let fp = Footprint {
            closing,
            along: (self.robot.gripper_max_width_m() / 2.0 + FINGER_M).max(half),
            across: half,
        };
        let discs: Vec<(Point2<f64>, f64)> = occupants.iter().map(disc).collect();
        let clear = |p: Point2<f64>| discs.iter().all(|(c, r)| fp.clears(c - p, *r, CLEARANCE_M));
        if clear(centre) {
            return centre;
        }
        let rim = self.scene.object(&target.name).map_or(0.0, inner_radius_m);
        // The object (not the fingers, which may reach over a plate's rim) stays inside.
        let limit = rim - half;
        let mut d = RING_STEP_M;
        while d <= limit {
            for k in 0..DIRECTIONS {
                // Across the closing axis first: the fingers open along it.
                let a = std::f64::consts::FRAC_PI_2
                    + std::f64::consts::TAU * k as f64 / DIRECTIONS as f64;
                let dir = Vector2::new(
                    closing.x * a.cos() - closing.y * a.sin(),
                    closing.x * a.sin() + closing.y * a.cos(),
                );
                let p = centre + dir * d;
                if clear(p) {
                    return p;
                }
            }
            d += RING_STEP_M;
        }
        centre
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_footprint_clears_discs_by_its_rectangle() {
        let fp = Footprint {
            closing: Vector2::y(),
            along: 0.05,
            across: 0.02,
        };
        // Beside it across the closing axis: 4 cm from the centre clears a 1 cm disc
        // by 1 cm.
        assert!(fp.clears(Vector2::new(0.04, 0.0), 0.01, 0.009));
        assert!(!fp.clears(Vector2::new(0.04, 0.0), 0.01, 0.011));
        // Along it, the open fingers reach 5 cm.
        assert!(!fp.clears(Vector2::new(0.0, 0.055), 0.01, 0.0));
        assert!(fp.clears(Vector2::new(0.0, 0.07), 0.01, 0.005));
    }
}
