//! Training and evaluation data for the vision inspector, labelled from simulator state.
//!
//! Each image is a domain-randomised tabletop ([`domain`]): 2–8 objects of every kind
//! the model learns (blocks, cylinders short and tall, balls, bowls, plates) across
//! their size ranges, in every palette colour, on a table of a palette colour, seen by
//! a camera around the front camera or one of two side cameras, under a light from
//! anywhere above. The objects are then moved at random and the arm acts with the real
//! primitives ([`perturb`]): stacks, plates, bowls, near misses and rim contacts, a
//! plate in a bowl, objects held at several heights, the moment of grasp and of
//! release, the arm hiding part of the table. Statements over every relation the model
//! learns are labelled by the geometric inspector ([`crate::geometric::judge`]),
//! balanced between true and false per relation and receptacle or held kind.
//!
//! A `--seed` gives a disjoint stream of scenes; a [`Family`] other than
//! [`Family::Train`] draws scenes the training distribution never has (a camera pose,
//! a size band, table colours), for the out-of-distribution test splits. Mesh objects
//! slot in as another [`domain::Kind`] with their noun once the model's vocabulary
//! has them. [`eval`] scores the inspector on any directory this writes.

pub mod domain;
pub mod eval;
pub mod perturb;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use cap_core::scene::{ObjectKind, Scene, PALETTE};
use cap_sim::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

pub use domain::Family;

use crate::geometric::judge;
use crate::statement::{Desc, Relation, Statement, Thing};
use crate::vision::downsample;
use perturb::graspable;

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
pub const STATEMENTS_PER_IMAGE: usize = 20;

/// The colours objects and tables are drawn in: the whole palette.
pub fn colors() -> Vec<&'static str> {
    PALETTE.iter().map(|(n, _)| *n).collect()
}

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

/// How one image's world was drawn (`scenes.jsonl`, one line per image).
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    /// The family.
    pub family: Family,
    /// The table's colour.
    pub table_color: &'static str,
    /// The camera.
    pub camera: domain::CameraDraw,
    /// Direction towards the light.
    pub light: [f32; 3],
    /// Ambient light.
    pub ambient: f32,
    /// What the arm was doing.
    pub arm: perturb::ArmEvent,
    /// Objects: name and size (full extents, metres).
    pub objects: Vec<(String, [f64; 3])>,
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

/// A random scene's TOML text and its table colour.
fn random_scene(rng: &mut ChaCha8Rng, family: Family) -> (String, &'static str) {
    let table_color = domain::draw_table_color(rng, family);
    let mut t = format!(
        "[scene]\nname = \"dataset\"\n[table]\nsize = [1.0, 1.2, 0.05]\ncenter = [0.45, 0.0]\ncolor = \"{table_color}\"\n[robot]\nspeed = 1.0\nworkspace_min = [0.15, -0.55, 0.0]\nworkspace_max = [0.85, 0.55, 0.65]\n",
    );
    let kinds = domain::draw_kinds(rng);
    let colors = domain::draw_colors(rng, &kinds);
    let mut placed: Vec<(f64, f64, f64)> = Vec::new();
    for (&kind, color) in kinds.iter().zip(colors) {
        let s = domain::draw_size(rng, kind, family);
        let (size, mass) = domain::extents(rng, kind, s);
        let r = size[0].max(size[1]) * 0.6 + 0.005;
        for _ in 0..200 {
            let x = rng.random_range(0.28..0.70);
            let y = rng.random_range(-0.38..0.38);
            if placed
                .iter()
                .all(|(px, py, pr)| ((px - x).powi(2) + (py - y).powi(2)).sqrt() > pr + r)
            {
                placed.push((x, y, r));
                let yaw = rng.random_range(-45.0..45.0);
                t.push_str(&format!(
                    "[[objects]]\nname = \"{color}_{noun}\"\nkind = \"{kind}\"\ncolor = \"{color}\"\nsize = [{:.4}, {:.4}, {:.4}]\nmass = {mass:.4}\nposition = [{x:.4}, {y:.4}]\nyaw_deg = {yaw:.1}\n",
                    size[0],
                    size[1],
                    size[2],
                    noun = kind.noun(),
                    kind = kind.toml(),
                ));
                break;
            }
        }
    }
    (t, table_color)
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
        if graspable(k) {
            push(Relation::Holding, Some(desc(i)), None);
            push(Relation::On, Some(desc(i)), Some(table.clone()));
        }
        push(Relation::Visible, Some(desc(i)), None);
        for j in 0..n {
            if i == j {
                continue;
            }
            let kj = scene.objects[j].kind;
            if graspable(k) {
                if matches!(
                    kj,
                    ObjectKind::Box | ObjectKind::Cylinder | ObjectKind::Plate
                ) {
                    push(Relation::On, Some(desc(i)), Some(desc(j)));
                }
                if kj == ObjectKind::Bowl {
                    push(Relation::In, Some(desc(i)), Some(desc(j)));
                }
            } else if k == ObjectKind::Plate && kj == ObjectKind::Bowl {
                push(Relation::In, Some(desc(i)), Some(desc(j)));
            }
            push(Relation::LeftOf, Some(desc(i)), Some(desc(j)));
            push(Relation::RightOf, Some(desc(i)), Some(desc(j)));
            push(Relation::Near, Some(desc(i)), Some(desc(j)));
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
    /// How the world was drawn.
    pub info: ImageInfo,
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

/// The kind a statement's label depends on most: the receptacle of `on` and `in`,
/// the object held for `holding`; none for the others.
fn bucket_kind(st: &Statement) -> &'static str {
    let kind = |d: &Option<Desc>| d.as_ref().and_then(|d| d.thing).map_or("", thing_name);
    match st.relation {
        Relation::On | Relation::In => kind(&st.object),
        Relation::Holding => kind(&st.subject),
        _ => "",
    }
}

/// Balanced statements: round robin over (relation, kind, label) buckets, the rarest
/// first ([`bucket_kind`]), so each image gives every relation true and false
/// statements, and `on` a block as often as `on` the table, as far as it has them
/// (positives of `in`, of `on` a block or a plate and negatives of `visible` are
/// rare), [`STATEMENTS_PER_IMAGE`] at most.
fn balance(all: Vec<(Statement, bool)>, rng: &mut ChaCha8Rng) -> Vec<(Statement, bool)> {
    // One bucket per key, in the order keys first occur, statements in source order.
    let mut keys: Vec<(Relation, &'static str, bool)> = Vec::new();
    let mut buckets: Vec<Vec<(Statement, bool)>> = Vec::new();
    for (st, label) in all {
        let k = (st.relation, bucket_kind(&st), label);
        match keys.iter().position(|x| *x == k) {
            Some(i) => buckets[i].push((st, label)),
            None => {
                keys.push(k);
                buckets.push(vec![(st, label)]);
            }
        }
    }
    for b in &mut buckets {
        b.shuffle(rng);
    }
    // Rarest first, so an image's one true `on` a block is kept even when it has more
    // buckets than statements; ties in a random order.
    buckets.shuffle(rng);
    buckets.sort_by_key(Vec::len);
    let mut chosen = Vec::new();
    while chosen.len() < STATEMENTS_PER_IMAGE && buckets.iter().any(|b| !b.is_empty()) {
        for b in &mut buckets {
            if chosen.len() >= STATEMENTS_PER_IMAGE {
                break;
            }
            if let Some(x) = b.pop() {
                chosen.push(x);
            }
        }
    }
    chosen
}

/// Which objects show in each [`MASK_SIZE`]² cell of a frame.
fn masks_of(frame: &Frame) -> Vec<u8> {
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
    masks
}

/// Generate image `index` of the stream `seed` in `family`.
pub fn generate_one(seed: u64, index: u64, family: Family) -> Result<Generated, GenerateError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index);
    for _attempt in 0..SCENE_TRIES {
        let (toml, table_color) = random_scene(&mut rng, family);
        let scene = match Scene::from_toml(&toml, "dataset.toml") {
            Ok(s) => s,
            Err(_) => continue,
        };
        let (cam, camera) = domain::draw_camera(&mut rng, &scene.table, family);
        let light = domain::draw_light(&mut rng, family);
        let Ok(mut w) = World::new(Arc::new(scene), rng.random()) else {
            continue;
        };
        perturb::arrange(&mut w, &mut rng);
        let arm = perturb::arm(&mut w, &mut rng);
        let frame = w.render_lit(&cam, &light);
        let samples = balance(candidates(&w, std::slice::from_ref(&frame)), &mut rng);
        let image = downsample(
            &frame.rgb,
            frame.width as usize,
            frame.height as usize,
            IMAGE_SIZE,
        );
        let objects = w
            .scene()
            .objects
            .iter()
            .map(|o| (o.color.clone(), o.noun().to_owned()))
            .collect();
        let info = ImageInfo {
            family,
            table_color,
            camera,
            light: light.direction,
            ambient: light.ambient,
            arm,
            objects: w
                .scene()
                .objects
                .iter()
                .map(|o| (o.name.clone(), [o.size_m.x, o.size_m.y, o.size_m.z]))
                .collect(),
        };
        return Ok(Generated {
            image,
            masks: masks_of(&frame),
            objects,
            frame: Some(frame),
            samples,
            info,
        });
    }
    Err(GenerateError::NoValidScene {
        seed,
        index,
        tries: SCENE_TRIES,
    })
}

/// Generate `count` images of stream `seed` in `family` into `dir` (`images.u8`,
/// `masks.u8`, `samples.jsonl`, `objects.jsonl`, `scenes.jsonl`, `meta.json`, a few
/// preview PNGs) using `threads` workers; `progress` is called with the number of
/// images done.
pub fn generate(
    dir: &Path,
    seed: u64,
    count: usize,
    family: Family,
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
                let g = generate_one(seed, i as u64, family).ok().map(|mut g| {
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
    let create = |name: &str| -> std::io::Result<std::io::BufWriter<std::fs::File>> {
        Ok(std::io::BufWriter::new(std::fs::File::create(
            dir.join(name),
        )?))
    };
    let mut images = create("images.u8")?;
    let mut samples = create("samples.jsonl")?;
    let mut masks = create("masks.u8")?;
    let mut objects = create("objects.jsonl")?;
    let mut scenes = create("scenes.jsonl")?;
    let mut n = 0;
    for g in results.into_iter().flatten() {
        images.write_all(&g.image)?;
        masks.write_all(&g.masks)?;
        serde_json::to_writer(&mut objects, &g.objects)?;
        objects.write_all(b"\n")?;
        serde_json::to_writer(&mut scenes, &g.info)?;
        scenes.write_all(b"\n")?;
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
    for f in [
        &mut images,
        &mut masks,
        &mut objects,
        &mut scenes,
        &mut samples,
    ] {
        f.flush()?;
    }
    let meta = serde_json::json!({
        "images": n,
        "image_size": IMAGE_SIZE,
        "mask_size": MASK_SIZE,
        "seed": seed,
        "family": family.label(),
        "family_holds": family.describe(),
        "relations": RELATIONS.iter().map(|r| r.label()).collect::<Vec<_>>(),
        "colors": colors(),
        "kinds": domain::KIND_NOUNS,
        "generator": concat!("cap dataset (cap-vision ", env!("CARGO_PKG_VERSION"), ")"),
    });
    std::fs::write(dir.join("meta.json"), serde_json::to_vec_pretty(&meta)?)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(relation: Relation) -> Statement {
        Statement {
            relation,
            subject: None,
            object: None,
            negated: false,
        }
    }

    #[test]
    fn balance_takes_every_relation_both_ways_before_the_common_ones_again() {
        let mut all = Vec::new();
        // Plenty of left_of, one true `in`, one false `visible`.
        for i in 0..60 {
            all.push((st(Relation::LeftOf), i % 2 == 0));
        }
        all.push((st(Relation::In), true));
        all.push((st(Relation::Visible), false));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let chosen = balance(all, &mut rng);
        assert_eq!(chosen.len(), STATEMENTS_PER_IMAGE);
        let count = |r: Relation, l: bool| {
            chosen
                .iter()
                .filter(|(s, x)| s.relation == r && *x == l)
                .count()
        };
        assert_eq!(count(Relation::In, true), 1);
        assert_eq!(count(Relation::Visible, false), 1);
        let (t, f) = (
            count(Relation::LeftOf, true),
            count(Relation::LeftOf, false),
        );
        assert_eq!(t + f, STATEMENTS_PER_IMAGE - 2);
        assert!(t.abs_diff(f) <= 1, "{t} true, {f} false");
    }

    fn on(object: Thing) -> Statement {
        Statement {
            relation: Relation::On,
            subject: Some(Desc {
                color: Some("red".into()),
                thing: Some(Thing::Object(ObjectKind::Box)),
                noun: None,
            }),
            object: Some(Desc {
                color: None,
                thing: Some(object),
                noun: None,
            }),
            negated: false,
        }
    }

    #[test]
    fn balance_keeps_a_rare_on_a_block_beside_many_on_the_table() {
        let block = Thing::Object(ObjectKind::Box);
        let mut all = Vec::new();
        for i in 0..40 {
            all.push((on(Thing::Table), i % 2 == 0));
            all.push((st(Relation::LeftOf), i % 2 == 0));
        }
        all.push((on(block), true));
        for _ in 0..10 {
            all.push((on(block), false));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let chosen = balance(all, &mut rng);
        let on_block = |l: bool| {
            chosen
                .iter()
                .filter(|(s, x)| bucket_kind(s) == "block" && *x == l)
                .count()
        };
        assert_eq!(on_block(true), 1);
        // Round robin over 6 buckets: 20 statements take 3-4 of each non-empty one.
        assert!((3..=4).contains(&on_block(false)), "{}", on_block(false));
    }

    #[test]
    fn placed_images_ask_about_what_was_placed() {
        let mut placed = 0;
        for i in 0..60 {
            let Ok(g) = generate_one(11, i, Family::Train) else {
                continue;
            };
            if g.info.arm != perturb::ArmEvent::Placed {
                continue;
            }
            placed += 1;
            // The placed object is on or in something that is not the table.
            assert!(
                g.samples.iter().any(|(s, l)| *l
                    && matches!(s.relation, Relation::On | Relation::In)
                    && bucket_kind(s) != "table"),
                "image {i}: {:?}",
                g.samples
                    .iter()
                    .map(|(s, l)| (s.sentence(), *l))
                    .collect::<Vec<_>>()
            );
        }
        assert!(placed >= 3, "{placed} placed images of 60");
    }

    #[test]
    fn an_image_of_each_family_is_labelled_and_masked() {
        for family in Family::ALL {
            let g = generate_one(5, 0, family).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(g.image.len(), IMAGE_SIZE * IMAGE_SIZE * 3);
            assert_eq!(g.info.family, family);
            assert!(!g.samples.is_empty() && g.samples.len() <= STATEMENTS_PER_IMAGE);
            assert!(g.samples.iter().any(|(_, l)| *l) && g.samples.iter().any(|(_, l)| !*l));
            assert_eq!(g.objects.len(), g.info.objects.len());
            assert!((2..=8).contains(&g.objects.len()) || g.objects.len() == 1);
            // Something of the scene shows in the grounding masks.
            assert!(g.masks.iter().any(|&m| m != 0), "{family:?}");
        }
    }
}
