//! Pick-and-place through the primitives on the tabletop scene: grasps come from
//! contacts, offsets miss, and the spatial predicates see the result.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::sync::Arc;

use cap_core::nalgebra::{Point3, Vector3};
use cap_core::scene::Scene;
use cap_sim::prelude::*;

fn world(seed: u64) -> World {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenes/tabletop.toml");
    let scene = Scene::load(path).expect("scene loads");
    World::new(Arc::new(scene), seed).expect("world builds")
}

#[test]
fn pick_and_place_red_block_on_plate() {
    for seed in 0..3 {
        let mut w = world(seed);
        w.pick("red_block")
            .unwrap_or_else(|f| panic!("seed {seed}: pick failed: {f}"));
        assert_eq!(
            cap_core::robot::RobotBackend::holding(&w).as_deref(),
            Some("red_block")
        );
        w.place_on("red_block", "blue_plate")
            .unwrap_or_else(|f| panic!("seed {seed}: place failed: {f}"));
        w.settle(0.5);
        assert!(
            w.is_on("red_block", "blue_plate").unwrap(),
            "seed {seed}: {:?}",
            w.object("red_block")
        );
        assert!(!w.is_on("green_block", "blue_plate").unwrap());
        eprintln!("seed {seed}: {} steps", w.steps());
    }
}

#[test]
fn grasp_offset_by_three_centimetres_misses() {
    // A block aligned with the gripper (a yawed block reaches further along x, and a
    // 3 cm offset on it would rightly touch a finger).
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/scenes/offset.toml"
    );
    let mut w = World::new(Arc::new(Scene::load(path).unwrap()), 0).unwrap();
    let c = w.point("red_block", Which::Center).unwrap();
    // Fingers close along world y at yaw 0; offset 3 cm along x puts both beside the block.
    w.open_gripper().unwrap();
    w.move_to(Point3::new(c.x + 0.03, c.y, c.z + 0.1)).unwrap();
    w.move_to(Point3::new(c.x + 0.03, c.y, c.z)).unwrap();
    let held = w.close_gripper().unwrap();
    assert_eq!(
        held, None,
        "a 3 cm offset grasp on a 4 cm block must not hold it"
    );
    w.move_by(Vector3::new(0.0, 0.0, 0.1)).unwrap();
    assert!(w.object("red_block").unwrap().position().z < 0.03);
}

#[test]
fn a_fork_evolves_independently_and_identically() {
    let mut a = world(4);
    let mut b = a.fork();
    a.pick("blue_block").unwrap();
    // The original moved; the fork did not.
    assert!(a.object("blue_block").unwrap().held);
    assert!(!b.object("blue_block").unwrap().held);
    // The fork replays the same action to the same result.
    b.pick("blue_block").unwrap();
    let (pa, pb) = (
        a.object("blue_block").unwrap().position(),
        b.object("blue_block").unwrap().position(),
    );
    assert!((pa - pb).norm() < 1e-6, "{pa} vs {pb}");
    assert_eq!(a.steps(), b.steps());
}

#[test]
fn a_block_too_heavy_for_the_grip_slips_and_a_light_one_does_not() {
    // The grasp assist holds what friction at a 30 N grip could: 2 mu F = 48 N here.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/scenes/offset.toml"
    ))
    .unwrap();
    let heavy = Scene::from_toml(&text.replace("mass = 0.08", "mass = 9.0"), "heavy.toml").unwrap();
    let mut w = World::new(Arc::new(heavy), 0).unwrap();
    let lifted = w
        .pick("red_block")
        .and_then(|()| w.move_by(Vector3::new(0.0, 0.0, 0.1)));
    let f = lifted.expect_err("88 N of weight cannot be held by 48 N of friction");
    assert_eq!(f.kind, cap_core::failure::FailureKind::Slipped, "{f}");
    assert!(!w.object("red_block").unwrap().held);

    let light = Scene::from_toml(&text.replace("mass = 0.08", "mass = 4.0"), "light.toml").unwrap();
    let mut w = World::new(Arc::new(light), 0).unwrap();
    w.pick("red_block").unwrap();
    w.move_by(Vector3::new(0.0, 0.0, 0.1)).unwrap();
    assert!(
        w.object("red_block").unwrap().held,
        "39 N is within the grip"
    );
}

/// `place_on` a receptacle that already holds things sets the object beside them, not
/// on them: "the red and the blue blocks on the plate", "every block in the bowl".
#[test]
fn place_on_a_receptacle_sets_each_object_beside_the_ones_there() {
    for (scene, target, blocks) in [
        (
            "stacking.toml",
            "white_plate",
            &["red_block", "green_block", "blue_block"][..],
        ),
        (
            "sorting.toml",
            "green_bowl",
            &["red_block", "green_block", "blue_block"][..],
        ),
    ] {
        for seed in 0..3 {
            let path = format!("{}/../../scenes/{scene}", env!("CARGO_MANIFEST_DIR"));
            let scene_ = cap_core::scene::Scene::load(&path).expect("scene loads");
            let mut w = World::new(std::sync::Arc::new(scene_), seed).expect("world builds");
            for (i, b) in blocks.iter().enumerate() {
                w.pick(b)
                    .unwrap_or_else(|f| panic!("{scene} seed {seed} pick {b}: {f}"));
                w.place_on(b, target)
                    .unwrap_or_else(|f| panic!("{scene} seed {seed} place {b}: {f}"));
                w.settle(0.5);
                for done in &blocks[..=i] {
                    let inside = w.is_on(done, target).unwrap() || w.is_in(done, target).unwrap();
                    assert!(inside, "{scene} seed {seed}: {done} after placing {b}");
                    for other in &blocks[..=i] {
                        assert!(
                            !w.is_on(done, other).unwrap(),
                            "{scene} seed {seed}: {done} on {other}"
                        );
                    }
                }
            }
        }
    }
}
