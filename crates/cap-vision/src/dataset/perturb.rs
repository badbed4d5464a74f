//! Random changes to a generated tabletop before it is rendered: objects stacked, put
//! on plates and in bowls, set beside or against a receptacle's rim (near misses and
//! rim contacts), a plate in a bowl with an object on it, objects knocked off the
//! table; then the arm, with the real primitives: an object held at some height, the
//! moment of grasp (closed, not lifted), the moment of release (open, the object
//! falling), just after a real `place_on` (the checkpoint a policy asks about: the
//! object on a block, a plate or in a bowl, the open gripper above it), sometimes with
//! the next object already picked, or the arm over the table, hiding what is below it.
//!
//! A primitive that fails leaves the world as it is: the labels come from the state,
//! whatever it is.

use cap_core::nalgebra::{Point3, Vector3};
use cap_core::scene::ObjectKind;
use cap_sim::prelude::*;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What the arm was doing when the image was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArmEvent {
    /// At its ready pose.
    Rest,
    /// Holding an object lifted to some height.
    Holding,
    /// Just closed on an object, not lifted yet.
    Grasp,
    /// Just opened over a target, the object let go.
    Release,
    /// Just after `place_on`: the object placed on or in a target, the gripper
    /// open above it.
    Placed,
    /// Moved somewhere over the table, holding nothing.
    Moved,
}

/// Whether the gripper picks objects of kind `k` (what statements about holding and
/// being on something are asked of).
pub(crate) fn graspable(k: ObjectKind) -> bool {
    matches!(
        k,
        ObjectKind::Box | ObjectKind::Cylinder | ObjectKind::Sphere
    )
}

fn names(w: &World, f: impl Fn(ObjectKind) -> bool) -> Vec<String> {
    w.scene()
        .objects
        .iter()
        .filter(|o| f(o.kind))
        .map(|o| o.name.clone())
        .collect()
}

fn jitter(rng: &mut ChaCha8Rng, r: f64) -> Vector3<f64> {
    Vector3::new(rng.random_range(-r..r), rng.random_range(-r..r), 0.0)
}

/// Half the height and the horizontal radius of an object.
fn half_extents(w: &World, n: &str) -> (f64, f64) {
    w.object(n)
        .map(|o| (o.size_m.z / 2.0, o.size_m.x.max(o.size_m.y) / 2.0))
        .unwrap_or((0.02, 0.02))
}

/// Move the scene's objects about at random.
pub fn arrange(w: &mut World, rng: &mut ChaCha8Rng) {
    let small = names(w, graspable);
    let bowls = names(w, |k| k == ObjectKind::Bowl);
    let plates = names(w, |k| k == ObjectKind::Plate);
    let stackable = names(w, |k| matches!(k, ObjectKind::Box | ObjectKind::Cylinder));
    let centre = |w: &World, n: &str| w.object(n).map(|o| o.position()).ok();
    let top = |w: &World, n: &str| w.object(n).map(|o| o.aabb_max.z).unwrap_or(0.0);
    // A plate inside a bowl, sometimes with an object on it.
    if rng.random_bool(0.15) {
        let fits: Vec<(String, String)> = plates
            .iter()
            .flat_map(|p| bowls.iter().map(move |b| (p.clone(), b.clone())))
            .filter(|(p, b)| half_extents(w, p).1 < half_extents(w, b).1 * 0.8)
            .collect();
        if let Some((p, b)) = fits.choose(rng).cloned() {
            if let Some(c) = centre(w, &b) {
                let floor = w.object(&b).map(|o| o.aabb_min.z).unwrap_or(0.0) + 0.012;
                let (hz, _) = half_extents(w, &p);
                let _ = w.teleport(&p, Point3::new(c.x, c.y, floor + hz), 0.0);
                if let Some(s) = small.choose(rng) {
                    let (sz, _) = half_extents(w, s);
                    let z = floor + 2.0 * hz + sz + 0.002;
                    let _ = w.teleport(s, Point3::new(c.x, c.y, z) + jitter(rng, 0.015), 0.3);
                }
            }
        }
    }
    let mut moved = small.clone();
    moved.shuffle(rng);
    let n = rng.random_range(0..=moved.len().min(4));
    for s in moved.iter().take(n) {
        let (hz, hr) = half_extents(w, s);
        let yaw = rng.random_range(-0.8..0.8);
        let z_table = hz + 0.001;
        match rng.random_range(0..12) {
            0 | 9 | 10 => {
                // On another block or cylinder.
                let others: Vec<&String> = stackable.iter().filter(|o| *o != s).collect();
                if let Some(o) = others.choose(rng) {
                    if let Some(c) = centre(w, o) {
                        let z = top(w, o) + hz + 0.001;
                        let p = Point3::new(c.x, c.y, z) + jitter(rng, 0.012);
                        let _ = w.teleport(s, p, yaw);
                    }
                }
            }
            1 | 11 => {
                // On a plate, anywhere up to its edge.
                if let Some(pl) = plates.choose(rng) {
                    if let Some(c) = centre(w, pl) {
                        let r = half_extents(w, pl).1 * 0.8;
                        let z = top(w, pl) + hz + 0.001;
                        let _ = w.teleport(s, Point3::new(c.x, c.y, z) + jitter(rng, r), yaw);
                    }
                }
            }
            2 | 3 | 8 => {
                // In a bowl.
                if let Some(b) = bowls.choose(rng) {
                    if let Some(c) = centre(w, b) {
                        let r = (half_extents(w, b).1 - hr).max(0.0) * 0.5;
                        let floor = w.object(b).map(|o| o.aabb_min.z).unwrap_or(0.0);
                        let p = Point3::new(c.x, c.y, floor + 0.012 + hz) + jitter(rng, r + 1e-4);
                        let _ = w.teleport(s, p, yaw);
                    }
                }
            }
            4 => {
                // Against a receptacle's rim: a near miss beside it or a rim contact on it.
                let recs: Vec<&String> = bowls.iter().chain(plates.iter()).collect();
                if let Some(r) = recs.choose(rng) {
                    if let Some(c) = centre(w, r) {
                        let rr = half_extents(w, r).1;
                        let d = rr + hr * rng.random_range(-0.4..1.3);
                        let a: f64 = rng.random_range(0.0..std::f64::consts::TAU);
                        let z = if d < rr { top(w, r) + hz } else { z_table };
                        let p = Point3::new(c.x + d * a.cos(), c.y + d * a.sin(), z);
                        let _ = w.teleport(s, p, yaw);
                    }
                }
            }
            5 | 6 => {
                // Next to another object, 4-14 cm away.
                let all = w.scene().object_names();
                let others: Vec<&String> = all.iter().filter(|o| *o != s).collect();
                if let Some(o) = others.choose(rng) {
                    if let Some(c) = centre(w, o) {
                        let a: f64 = rng.random_range(0.0..std::f64::consts::TAU);
                        let d = rng.random_range(0.04..0.14);
                        let p = Point3::new(c.x + d * a.cos(), c.y + d * a.sin(), z_table);
                        let _ = w.teleport(s, p, yaw);
                    }
                }
            }
            _ => {
                // Off the table, out of sight.
                let _ = w.teleport(s, Point3::new(0.45, 0.0, -0.5), yaw);
            }
        }
    }
    w.settle(0.35);
}

/// Move the arm at random; what it ended up doing.
pub fn arm(w: &mut World, rng: &mut ChaCha8Rng) -> ArmEvent {
    let small = names(w, graspable);
    let on_table: Vec<String> = small
        .iter()
        .filter(|n| w.object(n).is_ok_and(|o| o.aabb_min.z > -0.05))
        .cloned()
        .collect();
    let u: f64 = rng.random();
    if u < 0.25 {
        if let Some(s) = on_table.choose(rng) {
            if w.pick(s).is_ok() {
                let d = Vector3::new(
                    rng.random_range(-0.15..0.15),
                    rng.random_range(-0.2..0.2),
                    rng.random_range(-0.05..0.2),
                );
                let _ = w.move_by(d);
                return ArmEvent::Holding;
            }
        }
    } else if u < 0.33 {
        if let Some(s) = on_table.choose(rng) {
            if let Ok(c) = w.object(s).map(|o| o.position()) {
                let ok = w.open_gripper().is_ok()
                    && w.move_to(c + Vector3::new(0.0, 0.0, 0.12)).is_ok()
                    && w.move_to(c).is_ok();
                if ok && w.close_gripper().is_ok() {
                    return ArmEvent::Grasp;
                }
            }
        }
    } else if u < 0.41 {
        if let Some(s) = on_table.choose(rng) {
            if w.pick(s).is_ok() {
                let targets = w.scene().object_names();
                let t = targets.iter().filter(|t| *t != s).collect::<Vec<_>>();
                if let Some(t) = t.choose(rng) {
                    if let Ok(c) = w.object(t).map(|o| o.position()) {
                        let h = rng.random_range(0.06..0.14);
                        let p = Point3::new(c.x, c.y, c.z + h) + jitter(rng, 0.03);
                        if w.move_to(p).is_ok() && w.open_gripper().is_ok() {
                            w.settle(rng.random_range(0.0..0.15));
                            return ArmEvent::Release;
                        }
                    }
                }
            }
        }
    } else if u < 0.68 {
        if let Some(s) = on_table.choose(rng) {
            let targets: Vec<String> = names(w, |k| {
                matches!(
                    k,
                    ObjectKind::Box | ObjectKind::Cylinder | ObjectKind::Plate | ObjectKind::Bowl
                )
            })
            .into_iter()
            .filter(|t| t != s)
            .collect();
            if let Some(t) = targets.choose(rng) {
                if w.pick(s).is_ok() && w.place_on(s, t).is_ok() {
                    // Sometimes the next step has begun: another object picked up.
                    let rest: Vec<&String> =
                        on_table.iter().filter(|n| *n != s && *n != t).collect();
                    if rng.random_bool(0.3) {
                        if let Some(o) = rest.choose(rng) {
                            if w.pick(o).is_ok() {
                                return ArmEvent::Holding;
                            }
                        }
                    }
                    return ArmEvent::Placed;
                }
            }
        }
    } else if u < 0.85 {
        let q = Point3::new(
            rng.random_range(0.3..0.65),
            rng.random_range(-0.3..0.3),
            rng.random_range(0.08..0.4),
        );
        if w.move_to(q).is_ok() {
            return ArmEvent::Moved;
        }
    }
    if small.iter().any(|n| w.object(n).is_ok_and(|o| o.held)) {
        ArmEvent::Holding
    } else {
        ArmEvent::Rest
    }
}
