//! Domain randomisation: what one generated image's world looks like.
//!
//! Every image draws a table colour, a camera, a light, and 2–8 objects of every kind
//! the model learns, each across its whole size range, in palette colours. A
//! [`Family`] says which part of that space an image comes from: the training
//! distribution, or one of the out-of-distribution families whose scenes are never
//! trained on (a camera pose, a size band, table colours).

use cap_core::nalgebra::{Point3, Vector3};
use cap_core::scene::{CameraSpec, TableSpec, PALETTE};
use cap_sim::prelude::Lighting;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Which part of the randomised space an image is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// The training distribution (train, validation and in-distribution test splits).
    Train,
    /// Cameras at azimuths beyond every training camera's.
    OodCamera,
    /// Every object inside a size band no training scene has.
    OodSize,
    /// Table colours no training scene has.
    OodTable,
    /// The shipped scenes' set-up, a part of the training distribution: the front
    /// camera within a few centimetres of its place, the default light, a brown table.
    Nominal,
}

impl Family {
    /// Every family, training first.
    pub const ALL: [Family; 5] = [
        Family::Train,
        Family::OodCamera,
        Family::OodSize,
        Family::OodTable,
        Family::Nominal,
    ];

    /// The name used on the command line and in `meta.json`.
    pub fn label(self) -> &'static str {
        match self {
            Family::Train => "train",
            Family::OodCamera => "ood-camera",
            Family::OodSize => "ood-size",
            Family::OodTable => "ood-table",
            Family::Nominal => "nominal",
        }
    }

    /// The family called `s`.
    pub fn parse(s: &str) -> Option<Family> {
        Self::ALL.into_iter().find(|f| f.label() == s)
    }

    /// What the family holds out, for the dataset's `meta.json` and the model card.
    pub fn describe(self) -> &'static str {
        match self {
            Family::Train => {
                "training distribution: the front camera and two side cameras (azimuth within \
                 ±40°), sizes outside the held-out band, tables of ten palette colours"
            }
            Family::OodCamera => "cameras at azimuth 48-60° either side of the front camera",
            Family::OodSize => {
                "every object in the held-out size band (blocks, cylinders and balls 5.0-5.8 cm, \
                 bowls 17-20 cm, plates 18-21 cm)"
            }
            Family::OodTable => "tables coloured green or pink",
            Family::Nominal => {
                "the shipped scenes' set-up (front camera within 3 cm, default light, brown \
                 table), sizes as in training"
            }
        }
    }
}

/// Table colours held out of training ([`Family::OodTable`]).
pub const OOD_TABLE_COLORS: [&str; 2] = ["green", "pink"];

/// Object kinds the generator places (the scene-file kind and the description noun).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A cube.
    Block,
    /// An upright cylinder, short (a puck) or tall (a can).
    Cylinder,
    /// A sphere.
    Ball,
    /// A bowl.
    Bowl,
    /// A plate.
    Plate,
}

impl Kind {
    /// The scene file's `kind`.
    pub fn toml(self) -> &'static str {
        match self {
            Kind::Block => "box",
            Kind::Cylinder => "cylinder",
            Kind::Ball => "sphere",
            Kind::Bowl => "bowl",
            Kind::Plate => "plate",
        }
    }

    /// The noun descriptions use.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Block => "block",
            Kind::Cylinder => "cylinder",
            Kind::Ball => "ball",
            Kind::Bowl => "bowl",
            Kind::Plate => "plate",
        }
    }

    /// Whether the gripper picks it.
    pub fn graspable(self) -> bool {
        matches!(self, Kind::Block | Kind::Cylinder | Kind::Ball)
    }

    /// The whole size range of its characteristic dimension (side or diameter), metres.
    fn range(self) -> (f64, f64) {
        match self {
            Kind::Block | Kind::Cylinder | Kind::Ball => (0.02, 0.07),
            Kind::Bowl => (0.10, 0.25),
            Kind::Plate => (0.10, 0.25),
        }
    }

    /// The held-out size band ([`Family::OodSize`]).
    fn band(self) -> (f64, f64) {
        match self {
            Kind::Block | Kind::Cylinder | Kind::Ball => (0.050, 0.058),
            Kind::Bowl => (0.17, 0.20),
            Kind::Plate => (0.18, 0.21),
        }
    }
}

/// The kinds' nouns in the model's vocabulary order (then `table`).
pub const KIND_NOUNS: [&str; 6] = ["block", "bowl", "plate", "cylinder", "ball", "table"];

/// Draw a characteristic size for `kind`: inside the held-out band for
/// [`Family::OodSize`], outside it otherwise.
pub fn draw_size(rng: &mut ChaCha8Rng, kind: Kind, family: Family) -> f64 {
    let (lo, hi) = kind.range();
    let (blo, bhi) = kind.band();
    if family == Family::OodSize {
        return rng.random_range(blo..bhi);
    }
    // Uniform over [lo, blo) ∪ [bhi, hi].
    let (a, b) = (blo - lo, hi - bhi);
    let u = rng.random_range(0.0..a + b);
    if u < a {
        lo + u
    } else {
        bhi + (u - a)
    }
}

/// The full extents and mass of an object of `kind` with characteristic size `s`.
pub fn extents(rng: &mut ChaCha8Rng, kind: Kind, s: f64) -> ([f64; 3], f64) {
    match kind {
        Kind::Block => ([s, s, s], 0.08 * (s / 0.04).powi(3)),
        Kind::Cylinder => {
            // Short (a puck) or tall (a can), never taller than 12 cm.
            let h = if rng.random_bool(0.5) {
                s * rng.random_range(0.35..0.8)
            } else {
                (s * rng.random_range(1.2..2.5)).min(0.12)
            };
            ([s, s, h.max(0.012)], 0.08 * (s / 0.04).powi(2) * (h / 0.04))
        }
        Kind::Ball => ([s, s, s], 0.05 * (s / 0.04).powi(3)),
        Kind::Bowl => ([s, s, (s * rng.random_range(0.35..0.5)).max(0.04)], 0.2),
        Kind::Plate => ([s, s, rng.random_range(0.012..0.02)], 0.25),
    }
}

/// Kinds of the objects on one table: 2-8 of them, usually one to three receptacles
/// (bowls a little more often than plates).
pub fn draw_kinds(rng: &mut ChaCha8Rng) -> Vec<Kind> {
    let n = rng.random_range(2..=8usize);
    let receptacles = if rng.random_bool(0.85) {
        rng.random_range(1..=(n / 2).clamp(1, 3))
    } else {
        0
    };
    let mut kinds = Vec::with_capacity(n);
    for _ in 0..receptacles {
        kinds.push(if rng.random_bool(0.6) {
            Kind::Bowl
        } else {
            Kind::Plate
        });
    }
    for _ in receptacles..n {
        let u: f64 = rng.random();
        kinds.push(if u < 0.55 {
            Kind::Block
        } else if u < 0.8 {
            Kind::Cylinder
        } else {
            Kind::Ball
        });
    }
    kinds
}

/// A colour per object, distinct among objects of the same kind (so every
/// description of colour and kind names one object).
pub fn draw_colors(rng: &mut ChaCha8Rng, kinds: &[Kind]) -> Vec<&'static str> {
    let mut left: Vec<(Kind, Vec<&'static str>)> = Vec::new();
    kinds
        .iter()
        .map(|&k| {
            let i = match left.iter().position(|(kk, _)| *kk == k) {
                Some(i) => i,
                None => {
                    let mut all: Vec<&'static str> = PALETTE.iter().map(|(n, _)| *n).collect();
                    all.shuffle(rng);
                    left.push((k, all));
                    left.len() - 1
                }
            };
            left[i].1.pop().unwrap_or("gray")
        })
        .collect()
}

/// The table's colour.
pub fn draw_table_color(rng: &mut ChaCha8Rng, family: Family) -> &'static str {
    if family == Family::Nominal {
        return "brown";
    }
    let pool: Vec<&'static str> = PALETTE
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| (family == Family::OodTable) == OOD_TABLE_COLORS.contains(n))
        .collect();
    pool.choose(rng).copied().unwrap_or("brown")
}

/// Where the camera looks from, as drawn.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CameraDraw {
    /// Azimuth about the table centre from the front camera's direction, degrees.
    pub azimuth_deg: f64,
    /// Elevation of the optical axis above the table, degrees.
    pub elevation_deg: f64,
    /// Distance from the point looked at, metres.
    pub distance_m: f64,
    /// Vertical field of view, degrees.
    pub fov_deg: f64,
}

/// A camera: around the front camera's nominal pose (and two side cameras) for the
/// training distribution, beyond them for [`Family::OodCamera`].
pub fn draw_camera(
    rng: &mut ChaCha8Rng,
    table: &TableSpec,
    family: Family,
) -> (CameraSpec, CameraDraw) {
    let nominal = CameraSpec::default_front(table);
    let look = nominal.look_at_m;
    let offset = nominal.position_m - look;
    let horizontal = (offset.x * offset.x + offset.y * offset.y).sqrt();
    let base_elev = offset.z.atan2(horizontal).to_degrees();
    let base_dist = offset.norm();
    let side = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
    let nominal_family = family == Family::Nominal;
    let azimuth = match family {
        Family::OodCamera => side * rng.random_range(48.0..60.0),
        Family::Nominal => rng.random_range(-2.0..2.0),
        _ => {
            // The front camera or one of two side cameras at ±30°, each jittered ±10°.
            let centre = [0.0, 30.0, -30.0][rng.random_range(0..3usize)];
            centre + rng.random_range(-10.0..10.0)
        }
    };
    let (elev, dist, fov) = if nominal_family {
        (2.0, 0.03, 0.0)
    } else {
        (6.0, 0.1, 5.0)
    };
    let draw = CameraDraw {
        azimuth_deg: azimuth,
        elevation_deg: base_elev + rng.random_range(-elev..=elev),
        distance_m: base_dist * rng.random_range(1.0 - dist..=1.0 + dist),
        fov_deg: nominal.fov_deg + rng.random_range(-fov..=fov),
    };
    let look_at = look
        + Vector3::new(
            rng.random_range(-0.03..0.03),
            rng.random_range(-0.03..0.03),
            0.0,
        );
    let (az, el) = (
        draw.azimuth_deg.to_radians(),
        draw.elevation_deg.to_radians(),
    );
    let position = Point3::new(
        look_at.x + draw.distance_m * el.cos() * az.cos(),
        look_at.y + draw.distance_m * el.cos() * az.sin(),
        look_at.z + draw.distance_m * el.sin(),
    );
    let cam = CameraSpec {
        name: "front".into(),
        position_m: position,
        look_at_m: look_at,
        fov_deg: draw.fov_deg,
        ..nominal
    };
    (cam, draw)
}

/// A light from anywhere above the table, a dimmer or brighter ambient term, and a
/// background a little off the default.
pub fn draw_light(rng: &mut ChaCha8Rng, family: Family) -> Lighting {
    if family == Family::Nominal {
        return Lighting::default();
    }
    let az: f64 = rng.random_range(0.0..std::f64::consts::TAU);
    let el: f64 = rng.random_range(35.0_f64..85.0).to_radians();
    let base = Lighting::default();
    let mut background = base.background;
    for c in &mut background {
        *c = (f64::from(*c) + rng.random_range(-18.0..18.0)).clamp(0.0, 255.0) as u8;
    }
    Lighting {
        direction: [
            (el.cos() * az.cos()) as f32,
            (el.cos() * az.sin()) as f32,
            el.sin() as f32,
        ],
        ambient: rng.random_range(0.28..0.5),
        background,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn sizes_stay_out_of_the_band_except_in_its_family() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for kind in [
            Kind::Block,
            Kind::Cylinder,
            Kind::Ball,
            Kind::Bowl,
            Kind::Plate,
        ] {
            let (lo, hi) = kind.range();
            let (blo, bhi) = kind.band();
            for _ in 0..500 {
                let s = draw_size(&mut rng, kind, Family::Train);
                assert!((lo..=hi).contains(&s), "{kind:?} {s}");
                assert!(
                    !(blo..bhi).contains(&s),
                    "{kind:?} {s} is in the held-out band"
                );
                let s = draw_size(&mut rng, kind, Family::OodSize);
                assert!((blo..bhi).contains(&s), "{kind:?} {s}");
            }
        }
    }

    #[test]
    fn table_colours_and_camera_azimuths_split_by_family() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let table = TableSpec {
            size_m: Vector3::new(1.0, 1.2, 0.05),
            center_m: Point3::new(0.45, 0.0, 0.0),
            color: "brown".into(),
            friction: 0.8,
        };
        for _ in 0..300 {
            assert!(!OOD_TABLE_COLORS.contains(&draw_table_color(&mut rng, Family::Train)));
            assert!(OOD_TABLE_COLORS.contains(&draw_table_color(&mut rng, Family::OodTable)));
            let (_, d) = draw_camera(&mut rng, &table, Family::Train);
            assert!(d.azimuth_deg.abs() <= 40.0, "{}", d.azimuth_deg);
            let (cam, d) = draw_camera(&mut rng, &table, Family::OodCamera);
            assert!((48.0..=60.0).contains(&d.azimuth_deg.abs()));
            assert!(cam.position_m.z > 0.3, "the camera looks down at the table");
        }
    }

    #[test]
    fn colours_are_distinct_within_a_kind() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..200 {
            let kinds = draw_kinds(&mut rng);
            assert!((2..=8).contains(&kinds.len()));
            let colors = draw_colors(&mut rng, &kinds);
            for i in 0..kinds.len() {
                for j in 0..i {
                    assert!(kinds[i] != kinds[j] || colors[i] != colors[j]);
                }
            }
        }
    }
}
