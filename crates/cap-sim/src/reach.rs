//! Where the arm can reach: whether the tool can point straight down at a point, the
//! band of radii about the base where it can do so from the table top to 20 cm above
//! it, and named places on the table ("top left corner", "bottom side") moved to the
//! nearest point in that band.
//!
//! The workspace box of a scene is a safety envelope, not the reach: its corners (and
//! the table's) are mostly out of reach. Programs ask these queries instead.

use cap_core::failure::{Failure, FailureKind};
use cap_core::nalgebra::{Point3, Vector3};

use crate::footprint::Footprints;
use crate::robot::reaches_down;
pub use crate::robot::{measure_reach_band, ReachBand, REACH_HIGH_Z_M, REACH_LOW_Z_M};
use crate::world::World;

/// Named places keep this far inside the reach band, so that an object set down there
/// can be picked up again.
const PLACE_MARGIN_M: f64 = 0.03;
/// ... and this far inside the table's edges.
const EDGE_MARGIN_M: f64 = 0.05;
/// Sampling step of the table for named places and the region.
const GRID_M: f64 = 0.01;
/// The arm's reach with the tool pointing down.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reach {
    /// Where the base stands, world x and y.
    pub base_xy_m: [f64; 2],
    /// Nearer than this (horizontally, from the base axis) the arm folds onto itself.
    pub min_radius_m: f64,
    /// Farther than this it cannot reach down.
    pub max_radius_m: f64,
    /// The radii hold from [`REACH_LOW_Z_M`] up to this height above the base.
    pub top_z_m: f64,
}

/// The part of the table top the arm can work on: the reach band within the table and
/// the workspace box, and its bounding box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    /// The reach band.
    pub reach: Reach,
    /// World x range of the reachable part of the table.
    pub x_m: [f64; 2],
    /// World y range.
    pub y_m: [f64; 2],
}

/// How a named place is said: which way along x (+1 top/far, −1 bottom/near) and y
/// (+1 left, −1 right), 0 for the middle.
fn parse_place(name: &str) -> Option<(i8, i8)> {
    let lower = name.trim().to_ascii_lowercase().replace(['_', '-'], " ");
    let (mut ux, mut uy, mut middle, mut any) = (0i8, 0i8, false, false);
    for w in lower.split_whitespace() {
        match w {
            "top" | "far" | "back" => ux = 1,
            "bottom" | "near" | "front" => ux = -1,
            "left" => uy = 1,
            "right" => uy = -1,
            "middle" | "center" | "centre" => middle = true,
            "the" | "of" | "table" | "corner" | "side" | "edge" => continue,
            _ => return None,
        }
        any = true;
    }
    if !any || (middle && (ux != 0 || uy != 0)) {
        return None;
    }
    Some((ux, uy))
}

/// The names [`World::table_point`] understands, for messages and the API reference.
pub const PLACE_NAMES: &str = "\"middle\", \"top left corner\", \"top right corner\", \"bottom left corner\", \"bottom right corner\", \"top side\", \"bottom side\", \"left side\", \"right side\"";

impl World {
    /// The arm's reach with the tool pointing down.
    pub fn reach(&self) -> Reach {
        let band = self.robot.reach_band();
        let b = self.kinematics.world_from_base().translation.vector;
        Reach {
            base_xy_m: [b.x, b.y],
            min_radius_m: band.min_radius_m,
            max_radius_m: band.max_radius_m,
            top_z_m: band.top_z_m,
        }
    }

    /// Whether the tool can be at `p` pointing straight down: inside the workspace box
    /// and reached by the arm at some wrist yaw. False for non-finite points.
    pub fn reachable(&self, p: Point3<f64>) -> bool {
        if !p.coords.iter().all(|v| v.is_finite()) {
            return false;
        }
        let r = &self.scene.robot;
        let inside = (0..3).all(|i| p[i] >= r.workspace_min_m[i] && p[i] <= r.workspace_max_m[i]);
        inside && reaches_down(&self.kinematics, p)
    }

    /// Points of the table top (z = 0) inside the reach band and the workspace box
    /// (less `band_margin`) and the table (less `edge_margin`), on a [`GRID_M`] grid.
    fn workable_points(&self, band_margin: f64, edge_margin: f64) -> Vec<Point3<f64>> {
        let reach = self.reach();
        let t = &self.scene.table;
        let w = &self.scene.robot;
        // The tool may sit a little off the object's centre; keep it off the box's wall.
        let box_margin = band_margin;
        let x0 =
            (t.center_m.x - t.size_m.x / 2.0 + edge_margin).max(w.workspace_min_m.x + box_margin);
        let x1 =
            (t.center_m.x + t.size_m.x / 2.0 - edge_margin).min(w.workspace_max_m.x - box_margin);
        let y0 =
            (t.center_m.y - t.size_m.y / 2.0 + edge_margin).max(w.workspace_min_m.y + box_margin);
        let y1 =
            (t.center_m.y + t.size_m.y / 2.0 - edge_margin).min(w.workspace_max_m.y - box_margin);
        let (r0, r1) = (
            reach.min_radius_m + band_margin,
            reach.max_radius_m - band_margin,
        );
        let mut out = Vec::new();
        let nx = ((x1 - x0) / GRID_M).floor().max(-1.0) as i64;
        let ny = ((y1 - y0) / GRID_M).floor().max(-1.0) as i64;
        for i in 0..=nx {
            for j in 0..=ny {
                // Whole millimetres, so answers print as 0.41 rather than 0.41000000000000003.
                let mm = |v: f64| (v * 1000.0).round() / 1000.0;
                let (x, y) = (mm(x0 + i as f64 * GRID_M), mm(y0 + j as f64 * GRID_M));
                let (dx, dy) = (x - reach.base_xy_m[0], y - reach.base_xy_m[1]);
                let r = (dx * dx + dy * dy).sqrt();
                if (r0..=r1).contains(&r) {
                    out.push(Point3::new(x, y, 0.0));
                }
            }
        }
        out
    }

    /// The reachable part of the table top and its bounding box.
    pub fn reachable_region(&self) -> Region {
        let pts = self.workable_points(0.0, 0.0);
        let range = |f: fn(&Point3<f64>) -> f64| {
            pts.iter()
                .map(f)
                .fold([f64::INFINITY, f64::NEG_INFINITY], |[lo, hi], v| {
                    [lo.min(v), hi.max(v)]
                })
        };
        Region {
            reach: self.reach(),
            x_m: range(|p| p.x),
            y_m: range(|p| p.y),
        }
    }

    /// A named place on the table top ("top left corner", "bottom side", "middle";
    /// top is far from the robot (+x), left is +y), moved to the nearest point the arm
    /// reaches with room to set an object down and pick it up again. z = 0.
    pub fn table_point(&self, name: &str) -> Result<Point3<f64>, Failure> {
        let Some((ux, uy)) = parse_place(name) else {
            return Err(Failure::new(
                FailureKind::InvalidArgument,
                format!("table_point: unknown place `{name}`; use one of {PLACE_NAMES}"),
            ));
        };
        let t = &self.scene.table;
        let half = |size: f64| size / 2.0 - EDGE_MARGIN_M;
        let ideal = Point3::new(
            t.center_m.x + f64::from(ux) * half(t.size_m.x),
            t.center_m.y + f64::from(uy) * half(t.size_m.y),
            0.0,
        );
        let mut pts = self.workable_points(PLACE_MARGIN_M, EDGE_MARGIN_M);
        // Nearest first. A side keeps to the middle of its edge: moving along the edge
        // counts ten times as much as moving in from it, so "bottom side" is in front of
        // the base, not wherever the reach band first meets the edge.
        let (wx, wy) = match (ux, uy) {
            (0, 0) => (1.0, 1.0),
            (0, _) => (10.0, 1.0),
            (_, 0) => (1.0, 10.0),
            _ => (1.0, 1.0),
        };
        let dist = |p: &Point3<f64>| wx * (p.x - ideal.x).powi(2) + wy * (p.y - ideal.y).powi(2);
        // Ties by coordinates, so the answer is the same on every run.
        pts.sort_by(|a, b| {
            let (da, db) = (dist(a), dist(b));
            da.total_cmp(&db)
                .then(a.x.total_cmp(&b.x))
                .then(a.y.total_cmp(&b.y))
        });
        let lift = Vector3::new(0.0, 0.0, REACH_LOW_Z_M);
        let high = Vector3::new(0.0, 0.0, self.robot.reach_band().top_z_m);
        // With room to set an object down: clear of what stood on the table when the
        // episode began, so that the program and its task's predicate read the same
        // point however the program has moved things since. Where no reachable point is
        // clear, the nearest reachable one.
        let room = Footprints::room_m(self.robot.gripper_max_width_m());
        let (clear, blocked): (Vec<Point3<f64>>, Vec<Point3<f64>>) = pts
            .into_iter()
            .partition(|p| self.start_layout.blocker(p.xy(), room).is_none());
        let works = |p: &&Point3<f64>| self.reachable(*p + lift) && self.reachable(*p + high);
        // The band is a model of the reach; the IK has the last word.
        clear
            .iter()
            .take(200)
            .find(works)
            .or_else(|| {
                let mut all: Vec<&Point3<f64>> = clear.iter().chain(&blocked).collect();
                all.sort_by(|a, b| {
                    dist(a)
                        .total_cmp(&dist(b))
                        .then(a.x.total_cmp(&b.x))
                        .then(a.y.total_cmp(&b.y))
                });
                all.into_iter().take(200).find(works)
            })
            .copied()
            .ok_or_else(|| {
                Failure::new(
                    FailureKind::Unreachable,
                    format!("table_point({name}): no part of the table near it is within the arm's reach"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_parse_in_any_word_order() {
        assert_eq!(parse_place("top left corner"), Some((1, 1)));
        assert_eq!(parse_place("the left top corner"), Some((1, 1)));
        assert_eq!(parse_place("bottom side"), Some((-1, 0)));
        assert_eq!(parse_place("right_side"), Some((0, -1)));
        assert_eq!(parse_place("middle of the table"), Some((0, 0)));
        assert_eq!(parse_place("middle left"), None);
        assert_eq!(parse_place("upstairs"), None);
        assert_eq!(parse_place(""), None);
    }

    #[test]
    fn the_panda_reach_band_is_what_the_ik_measures() {
        use cap_core::arm::ArmKinematics;
        use cap_core::nalgebra::Isometry3;
        let band = measure_reach_band(&ArmKinematics::panda(Isometry3::identity()))
            .unwrap_or_else(|| panic!("no band"));
        let (inner, outer) = (band.min_radius_m, band.max_radius_m);
        let c = crate::robot::PANDA_REACH;
        assert_eq!(band.top_z_m, c.top_z_m);
        let (c_inner, c_outer) = (c.min_radius_m, c.max_radius_m);
        assert!(
            (inner - c_inner).abs() < 1.5e-3 && (outer - c_outer).abs() < 1.5e-3,
            "measured {inner:.4}..{outer:.4}, constant {c_inner}..{c_outer}"
        );
        assert!(
            c_inner >= inner && c_outer <= outer,
            "the constant must lie inside"
        );
    }
}
