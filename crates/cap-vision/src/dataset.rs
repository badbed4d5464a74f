//! Training and evaluation data for the vision inspector, labelled from simulator state.
//!
//! Each image is a random tabletop (2–4 blocks, 0–2 bowls, 0–2 plates, colours drawn
//! from [`COLORS`], non-overlapping random placements), changed by random actions —
//! blocks stacked on blocks or plates, dropped into bowls, put next to each other,
//! picked up by the arm (with the real grasping primitives), knocked off the table —
//! then rendered from the scene camera with a small random jitter. Statements about it
//! are generated over every relation the model learns, and labelled by the geometric
//! inspector ([`crate::geometric::judge`]), balanced between true and false per
//! relation. A `--seed` gives a disjoint stream of scenes: the held-out split uses
//! seeds and placements the training split never saw.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use cap_core::nalgebra::{Point3, Vector3};
use cap_core::scene::{ObjectKind, Scene};
use cap_sim::prelude::*;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::geometric::judge;
use crate::statement::{Desc, Relation, Statement, Thing};

/// Colours objects are drawn in.
pub const COLORS: [&str; 8] = [
    "red", "green", "blue", "yellow", "orange", "purple", "pink", "cyan",
];
/// Relations the vision model learns: all but `upright` and `off_table`, which a
/// single top-front view cannot tell reliably (a tipped cube looks like an upright one).
pub const RELATIONS: &[Relation] = Relation::ALL.split_at(8).0;
/// Side of the square images stored (the renders are 224×224, averaged 2×2).
pub const IMAGE_SIZE: usize = 112;
/// Side of the grounding masks (the model's feature grid).
pub const MASK_SIZE: usize = 28;
/// Images whose full frames are written as preview PNGs.
const PREVIEWS: usize = 8;
/// Statements kept per image (at most).
pub const STATEMENTS_PER_IMAGE: usize = 16;

/// One labelled statement.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Index of the image in `images.u8`.
    pub image: usize,
    /// Relation label.
    pub relation: &'static str,
    /// Subject colour and kind (`null` for gripper_empty).
    pub subject: Option<(String, String)>,
    /// Object colour and kind (kind `table` has colour `""`).
    pub object: Option<(String, String)>,
    /// The sentence.
    pub sentence: String,
    /// Whether it holds.
    pub label: bool,
}

fn thing_name(t: Thing) -> &'static str {
    match t {
        Thing::Object(k) => k.noun(),
        Thing::Table => "table",
    }
}

fn desc_pair(d: &Desc) -> (String, String) {
    (
        d.color.clone().unwrap_or_default(),
        d.thing.map_or("object", thing_name).to_owned(),
    )
}

/// A random scene's TOML text.
fn random_scene(rng: &mut ChaCha8Rng) -> String {
    let mut t = String::from(
        "[scene]\nname = \"dataset\"\n[table]\nsize = [1.0, 1.2, 0.05]\ncenter = [0.45, 0.0]\n[robot]\nspeed = 1.0\nworkspace_min = [0.15, -0.55, 0.0]\nworkspace_max = [0.85, 0.55, 0.65]\n",
    );
    let mut placed: Vec<(f64, f64, f64)> = Vec::new();
    let mut add = |rng: &mut ChaCha8Rng,
                   t: &mut String,
                   name: String,
                   kind: &str,
                   color: &str,
                   size: [f64; 3],
                   mass: f64| {
        let r = size[0].max(size[1]) * 0.75;
        for _ in 0..200 {
            let x = rng.random_range(0.30..0.68);
            let y = rng.random_range(-0.36..0.36);
            if placed
                .iter()
                .all(|(px, py, pr)| ((px - x).powi(2) + (py - y).powi(2)).sqrt() > pr + r + 0.01)
            {
                placed.push((x, y, r));
                let yaw = rng.random_range(-45.0..45.0);
                t.push_str(&format!(
                    "[[objects]]\nname = \"{name}\"\nkind = \"{kind}\"\ncolor = \"{color}\"\nsize = [{}, {}, {}]\nmass = {mass}\nposition = [{x:.4}, {y:.4}]\nyaw_deg = {yaw:.1}\n",
                    size[0], size[1], size[2]
                ));
                return;
            }
        }
    };
    let mut colors = COLORS.to_vec();
    colors.shuffle(rng);
    let n_blocks = rng.random_range(2..=4);
    for c in colors.iter().take(n_blocks) {
        add(
            rng,
            &mut t,
            format!("{c}_block"),
            "box",
            c,
            [0.04, 0.04, 0.04],
            0.08,
        );
    }
    colors.shuffle(rng);
    let n_bowls = rng.random_range(0..=2);
    for c in colors.iter().take(n_bowls) {
        add(
            rng,
            &mut t,
            format!("{c}_bowl"),
            "bowl",
            c,
            [0.12, 0.12, 0.06],
            0.2,
        );
    }
    colors.shuffle(rng);
    let n_plates = rng.random_range(0..=2);
    for c in colors.iter().take(n_plates) {
        add(
            rng,
            &mut t,
            format!("{c}_plate"),
            "plate",
            c,
            [0.16, 0.16, 0.015],
            0.25,
        );
    }
    t
}

fn names_of(w: &World, kind: ObjectKind) -> Vec<String> {
    w.scene()
        .objects
        .iter()
        .filter(|o| o.kind == kind)
        .map(|o| o.name.clone())
        .collect()
}

/// Change the world at random; failures of the real primitives just leave it as is.
fn perturb(w: &mut World, rng: &mut ChaCha8Rng) {
    let blocks = names_of(w, ObjectKind::Box);
    let bowls = names_of(w, ObjectKind::Bowl);
    let plates = names_of(w, ObjectKind::Plate);
    let top = |w: &World, n: &str| w.object(n).map(|o| o.aabb_max.z).unwrap_or(0.0);
    let mut moved = blocks.clone();
    moved.shuffle(rng);
    for b in moved.iter().take(rng.random_range(0..=3)) {
        let p = |w: &World, n: &str| w.object(n).map(|o| o.position()).ok();
        let jitter = |rng: &mut ChaCha8Rng, r: f64| {
            Vector3::new(rng.random_range(-r..r), rng.random_range(-r..r), 0.0)
        };
        let yaw = rng.random_range(-0.8..0.8);
        match rng.random_range(0..7) {
            0 => {
                // On another block.
                if let Some(o) = blocks
                    .iter()
                    .filter(|o| *o != b)
                    .collect::<Vec<_>>()
                    .choose(rng)
                {
                    if let Some(c) = p(w, o) {
                        let z = top(w, o) + 0.021;
                        let _ = w.teleport(b, Point3::new(c.x, c.y, z) + jitter(rng, 0.012), yaw);
                    }
                }
            }
            1 => {
                if let Some(pl) = plates.choose(rng) {
                    if let Some(c) = p(w, pl) {
                        let z = top(w, pl) + 0.021;
                        let _ = w.teleport(b, Point3::new(c.x, c.y, z) + jitter(rng, 0.05), yaw);
                    }
                }
            }
            2 | 5 => {
                if let Some(bw) = bowls.choose(rng) {
                    if let Some(c) = p(w, bw) {
                        let _ =
                            w.teleport(b, Point3::new(c.x, c.y, 0.035) + jitter(rng, 0.02), yaw);
                    }
                }
            }
            3 => {
                // Next to another object, 5-12 cm away.
                if let Some(o) = w
                    .scene()
                    .object_names()
                    .iter()
                    .filter(|o| *o != b)
                    .collect::<Vec<_>>()
                    .choose(rng)
                {
                    if let Some(c) = p(w, o) {
                        let a: f64 = rng.random_range(0.0..std::f64::consts::TAU);
                        let d = rng.random_range(0.05..0.13);
                        let q = Point3::new(c.x + d * a.cos(), c.y + d * a.sin(), 0.021);
                        let _ = w.teleport(b, q, yaw);
                    }
                }
            }
            _ => {
                // Off the table, out of sight.
                let _ = w.teleport(b, Point3::new(0.45, 0.0, -0.5), yaw);
            }
        }
    }
    w.settle(0.35);
    // The arm: pick a block (held) or move somewhere over the table.
    if rng.random_bool(0.4) {
        if let Some(b) = blocks.choose(rng) {
            if w.pick(b).is_ok() && rng.random_bool(0.6) {
                let d = Vector3::new(
                    rng.random_range(-0.15..0.15),
                    rng.random_range(-0.2..0.2),
                    rng.random_range(0.0..0.15),
                );
                let _ = w.move_by(d);
            }
        }
    } else if rng.random_bool(0.6) {
        let q = Point3::new(
            rng.random_range(0.3..0.65),
            rng.random_range(-0.3..0.3),
            rng.random_range(0.12..0.4),
        );
        let _ = w.move_to(q);
    }
}

/// Candidate statements for a world, with labels.
fn candidates(w: &World, frames: &[Frame]) -> Vec<(Statement, bool)> {
    let scene = w.scene();
    let desc = |i: usize| {
        let o = &scene.objects[i];
        Desc {
            color: Some(o.color.clone()),
            thing: Some(Thing::Object(o.kind)),
            noun: o.mesh.as_ref().map(|m| m.noun.clone()),
        }
    };
    let table = Desc {
        color: None,
        thing: Some(Thing::Table),
        noun: None,
    };
    let n = scene.objects.len();
    let mut out = Vec::new();
    let mut push = |relation, subject: Option<Desc>, object: Option<Desc>| {
        let st = Statement {
            relation,
            subject,
            object,
            negated: false,
        };
        if let Ok(label) = judge(w, frames, &st) {
            out.push((st, label));
        }
    };
    push(Relation::GripperEmpty, None, None);
    for i in 0..n {
        let k = scene.objects[i].kind;
        if k == ObjectKind::Box {
            push(Relation::Holding, Some(desc(i)), None);
            push(Relation::On, Some(desc(i)), Some(table.clone()));
        }
        push(Relation::Visible, Some(desc(i)), None);
        for j in 0..n {
            if i == j {
                continue;
            }
            let kj = scene.objects[j].kind;
            if k == ObjectKind::Box {
                if kj != ObjectKind::Bowl {
                    push(Relation::On, Some(desc(i)), Some(desc(j)));
                }
                if kj == ObjectKind::Bowl {
                    push(Relation::In, Some(desc(i)), Some(desc(j)));
                }
            }
            push(Relation::LeftOf, Some(desc(i)), Some(desc(j)));
            push(Relation::RightOf, Some(desc(i)), Some(desc(j)));
            push(Relation::Near, Some(desc(i)), Some(desc(j)));
        }
    }
    out
}

/// 2×2 box average of an RGB image (224 → 112).
pub fn downsample(rgb: &[u8], w: usize, h: usize, out_side: usize) -> Vec<u8> {
    let mut out = vec![0u8; out_side * out_side * 3];
    for y in 0..out_side {
        for x in 0..out_side {
            // Area average over the source pixels that fall in the destination pixel.
            let (x0, x1) = (
                x * w / out_side,
                ((x + 1) * w / out_side).max(x * w / out_side + 1),
            );
            let (y0, y1) = (
                y * h / out_side,
                ((y + 1) * h / out_side).max(y * h / out_side + 1),
            );
            for c in 0..3 {
                let mut sum = 0u32;
                for sy in y0..y1 {
                    for sx in x0..x1 {
                        sum += u32::from(rgb[(sy * w + sx) * 3 + c]);
                    }
                }
                let n = ((y1 - y0) * (x1 - x0)) as u32;
                out[(y * out_side + x) * 3 + c] = ((sum + n / 2) / n) as u8;
            }
        }
    }
    out
}

/// One generated image with its samples.
pub struct Generated {
    /// RGB, [`IMAGE_SIZE`]², row-major.
    pub image: Vec<u8>,
    /// Where each object is, for training the model's grounding: a
    /// [`MASK_SIZE`]² grid whose byte has bit `k` set when object `k` (scene order)
    /// shows in that cell.
    pub masks: Vec<u8>,
    /// Each object's (colour, kind), scene order.
    pub objects: Vec<(String, String)>,
    /// The full-resolution frame (for previews).
    pub frame: Option<Frame>,
    /// Labelled statements.
    pub samples: Vec<(Statement, bool)>,
}

/// Why an image could not be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    /// Five random scenes in a row failed validation (their objects overlapped).
    #[error("no valid random scene for image {index} of seed {seed} in {tries} tries")]
    NoValidScene {
        /// The stream.
        seed: u64,
        /// The image.
        index: u64,
        /// Scenes drawn.
        tries: u32,
    },
}

/// Scenes drawn for one image before giving up.
const SCENE_TRIES: u32 = 5;

/// Generate image `index` of the stream `seed`.
pub fn generate_one(seed: u64, index: u64) -> Result<Generated, GenerateError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index);
    for _attempt in 0..SCENE_TRIES {
        let toml = random_scene(&mut rng);
        let scene = match Scene::from_toml(&toml, "dataset.toml") {
            Ok(s) => s,
            Err(_) => continue,
        };
        let mut cam = scene.cameras[0].clone();
        cam.position_m += Vector3::new(
            rng.random_range(-0.03..0.03),
            rng.random_range(-0.03..0.03),
            rng.random_range(-0.03..0.03),
        );
        cam.look_at_m += Vector3::new(
            rng.random_range(-0.02..0.02),
            rng.random_range(-0.02..0.02),
            0.0,
        );
        let Ok(mut w) = World::new(Arc::new(scene), rng.random()) else {
            continue;
        };
        perturb(&mut w, &mut rng);
        let frame = w.render(&cam);
        let all = candidates(&w, std::slice::from_ref(&frame));
        // Balance: per relation, up to 1 true and 1 false first, then fill at random.
        let mut chosen = Vec::new();
        let mut rest = Vec::new();
        for &rel in RELATIONS {
            for label in [true, false] {
                let mut of: Vec<&(Statement, bool)> = all
                    .iter()
                    .filter(|(s, l)| s.relation == rel && *l == label)
                    .collect();
                of.shuffle(&mut rng);
                if let Some(first) = of.first() {
                    chosen.push((*first).clone());
                }
                rest.extend(of.into_iter().skip(1).cloned());
            }
        }
        rest.shuffle(&mut rng);
        // Prefer positives in the fill: they are rarer for most relations.
        rest.sort_by_key(|(_, l)| !*l);
        let fill = STATEMENTS_PER_IMAGE.saturating_sub(chosen.len());
        chosen.extend(rest.into_iter().take(fill / 2));
        let image = downsample(
            &frame.rgb,
            frame.width as usize,
            frame.height as usize,
            IMAGE_SIZE,
        );
        let cell = (frame.width as usize / MASK_SIZE).max(1);
        let mut masks = vec![0u8; MASK_SIZE * MASK_SIZE];
        for (i, &id) in frame.seg.iter().enumerate() {
            let (x, y) = (
                i % frame.width as usize / cell,
                i / frame.width as usize / cell,
            );
            let k = id.wrapping_sub(cap_sim::labels::SEG_OBJECT0);
            if id >= cap_sim::labels::SEG_OBJECT0 && k < 8 && x < MASK_SIZE && y < MASK_SIZE {
                masks[y * MASK_SIZE + x] |= 1 << k;
            }
        }
        let objects = w
            .scene()
            .objects
            .iter()
            .map(|o| (o.color.clone(), o.kind.noun().to_owned()))
            .collect();
        return Ok(Generated {
            image,
            masks,
            objects,
            frame: Some(frame),
            samples: chosen,
        });
    }
    Err(GenerateError::NoValidScene {
        seed,
        index,
        tries: SCENE_TRIES,
    })
}

/// Generate `count` images of stream `seed` into `dir` (`images.u8`, `samples.jsonl`,
/// `meta.json`, a few preview PNGs) using `threads` workers; `progress` is called with
/// the number of images done.
pub fn generate(
    dir: &Path,
    seed: u64,
    count: usize,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<Generated>>> =
        std::sync::Mutex::new((0..count).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let g = generate_one(seed, i as u64).ok().map(|mut g| {
                    // Keep full frames only for the previews (memory).
                    if i >= PREVIEWS {
                        g.frame = None;
                    }
                    g
                });
                if let Ok(mut r) = results.lock() {
                    r[i] = g;
                }
                progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut images = std::io::BufWriter::new(std::fs::File::create(dir.join("images.u8"))?);
    let mut samples = std::io::BufWriter::new(std::fs::File::create(dir.join("samples.jsonl"))?);
    let mut masks = std::io::BufWriter::new(std::fs::File::create(dir.join("masks.u8"))?);
    let mut objects = std::io::BufWriter::new(std::fs::File::create(dir.join("objects.jsonl"))?);
    let mut n = 0;
    for g in results.into_iter().flatten() {
        images.write_all(&g.image)?;
        masks.write_all(&g.masks)?;
        serde_json::to_writer(&mut objects, &g.objects)?;
        objects.write_all(b"\n")?;
        if let Some(frame) = &g.frame {
            crate::png_io::write_pngs(frame, &dir.join("preview"), &format!("{n:03}"))
                .map_err(std::io::Error::other)?;
        }
        for (st, label) in &g.samples {
            let s = Sample {
                image: n,
                relation: st.relation.label(),
                subject: st.subject.as_ref().map(desc_pair),
                object: st.object.as_ref().map(desc_pair),
                sentence: st.sentence(),
                label: *label,
            };
            serde_json::to_writer(&mut samples, &s)?;
            samples.write_all(b"\n")?;
        }
        n += 1;
    }
    images.flush()?;
    masks.flush()?;
    objects.flush()?;
    samples.flush()?;
    let meta = serde_json::json!({
        "images": n,
        "image_size": IMAGE_SIZE,
        "mask_size": MASK_SIZE,
        "seed": seed,
        "relations": RELATIONS.iter().map(|r| r.label()).collect::<Vec<_>>(),
        "colors": COLORS,
        "kinds": ["block", "bowl", "plate", "table"],
        "generator": concat!("cap dataset (cap-vision ", env!("CARGO_PKG_VERSION"), ")"),
    });
    std::fs::write(dir.join("meta.json"), serde_json::to_vec_pretty(&meta)?)?;
    Ok(n)
}
