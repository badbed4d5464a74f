//! Motions under a real arm's limits: with acceleration and jerk limits in the gate,
//! the planner times motions with a quintic profile, and the gate admits every one of a
//! pick-and-place and a stack; without them, the cosine-timed motions would be refused.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::sync::Arc;

use cap_core::robot::{DynamicLimits, GateError, RobotBackend};
use cap_core::scene::Scene;
use cap_sim::prelude::*;

fn world(seed: u64) -> World {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenes/tabletop.toml");
    let scene = Scene::load(path).expect("scene loads");
    World::new(Arc::new(scene), seed).expect("world builds")
}

#[test]
fn pick_and_place_passes_the_panda_acceleration_and_jerk_limits() {
    let stiff = DynamicLimits {
        a_max: [10.0; 7],
        j_max: [300.0; 7],
        start_tolerance_rad: 0.01,
    };
    for (seed, limits) in [
        (0, DynamicLimits::panda()),
        (1, DynamicLimits::panda()),
        (2, stiff),
    ] {
        let mut w = world(seed);
        w.set_dynamic_limits(Some(limits));
        w.pick("red_block")
            .unwrap_or_else(|f| panic!("seed {seed}: pick: {f}"));
        w.place_on("red_block", "blue_plate")
            .unwrap_or_else(|f| panic!("seed {seed}: place: {f}"));
        w.pick("green_block")
            .unwrap_or_else(|f| panic!("seed {seed}: pick green: {f}"));
        w.place_on("green_block", "red_block")
            .unwrap_or_else(|f| panic!("seed {seed}: stack: {f}"));
        w.home()
            .unwrap_or_else(|f| panic!("seed {seed}: home: {f}"));
        w.settle(0.5);
        assert!(w.is_on("green_block", "red_block").unwrap(), "seed {seed}");
    }
}

#[test]
fn cosine_timed_motions_are_refused_under_jerk_limits_and_quintic_ones_take_longer() {
    let w = world(0);
    let q0 = w.joint_positions();
    let mut q1 = q0;
    q1[0] += 0.5;
    let cosine = w.plan_joint(&q0, &q1);
    // A stiff arm's limits: the cosine profile's step of acceleration at its start
    // (about 6 rad/s² within one 4 ms period) is a jerk of ~1500 rad/s³.
    let tight = DynamicLimits {
        a_max: [10.0; 7],
        j_max: [300.0; 7],
        start_tolerance_rad: 0.01,
    };
    let gate = w.gate().clone().with_dynamics(Some(tight));
    assert!(
        matches!(
            gate.admit(&q0, cosine.clone()),
            Err(GateError::JointJerk { .. } | GateError::JointAcceleration { .. })
        ),
        "a cosine profile starts with a jump in acceleration"
    );
    let mut wq = world(0);
    wq.set_dynamic_limits(Some(tight));
    let quintic = wq.plan_joint(&q0, &q1);
    assert!(gate.admit(&q0, quintic.clone()).is_ok());
    assert!(quintic.points.len() >= cosine.points.len());
    // A plan from where the robot is not.
    let mut reported = q0;
    reported[2] += 0.05;
    assert!(matches!(
        gate.admit_from(&q0, &reported, quintic),
        Err(GateError::StartMismatch { joint: 2, .. })
    ));
}
