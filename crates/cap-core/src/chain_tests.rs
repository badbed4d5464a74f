//! The chain against the Panda's own model (same FK, same Jacobian, the same solver),
//! Jacobians against finite differences, a 5-joint arm that cannot take every pose,
//! and the refusal of unusable joints.

use std::f64::consts::FRAC_PI_2;

use nalgebra::{Isometry3, Translation3, Vector3};

use super::*;
use crate::kinematics::{Panda, TargetSet, HOME};

fn panda() -> (Panda, SerialChain) {
    let base = Isometry3::translation(0.1, -0.2, 0.05) * math::rot_z(0.3);
    let p = Panda::new(base);
    let c = p.chain().unwrap_or_else(|e| panic!("{e}"));
    (p, c)
}

fn joint(name: &str, kind: JointKind, origin: Isometry3<f64>, axis: Vector3<f64>) -> ChainJoint {
    ChainJoint {
        name: name.into(),
        kind,
        origin,
        axis: Unit::new_normalize(axis),
        lower: -2.5,
        upper: 2.5,
        velocity: 1.0,
        effort: 10.0,
    }
}

/// A 5-joint arm of SO-101 proportions: base yaw, shoulder, elbow, wrist pitch, wrist
/// roll.
fn five() -> SerialChain {
    let y = Vector3::y();
    let joints = vec![
        joint(
            "yaw",
            JointKind::Revolute,
            Isometry3::translation(0.0, 0.0, 0.1),
            Vector3::z(),
        ),
        joint(
            "shoulder",
            JointKind::Revolute,
            Isometry3::translation(0.0, 0.0, 0.03),
            y,
        ),
        joint(
            "elbow",
            JointKind::Revolute,
            Isometry3::translation(0.0, 0.0, 0.11),
            y,
        ),
        joint(
            "pitch",
            JointKind::Revolute,
            Isometry3::translation(0.13, 0.0, 0.0),
            y,
        ),
        joint(
            "roll",
            JointKind::Revolute,
            Isometry3::translation(0.06, 0.0, 0.0),
            Vector3::x(),
        ),
    ];
    SerialChain::new(
        Isometry3::identity(),
        joints,
        Isometry3::translation(0.05, 0.0, 0.0),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_panda_as_a_chain_is_the_panda() {
    let (p, c) = panda();
    assert_eq!(c.dof(), 7);
    let mut rng = SplitMix(7);
    let (lo, hi) = c.limits();
    for _ in 0..200 {
        let q: Vec<f64> = lo
            .iter()
            .zip(&hi)
            .map(|(l, h)| l + (h - l) * rng.unit())
            .collect();
        let mut qa = [0.0; 7];
        qa.copy_from_slice(&q);
        let a = p.tcp(&qa);
        let b = c.tcp(&q).unwrap_or_else(|e| panic!("{e}"));
        assert!((a.translation.vector - b.translation.vector).norm() < 1e-12);
        assert!(a.rotation.angle_to(&b.rotation) < 1e-9);
        let ja = p.jacobian(&p.frames(&qa));
        let (_, jb) = ArmModel::<7>::tcp_jacobian(&Fixed::<7>(&c), &qa);
        assert!((ja - jb).norm() < 1e-9, "{ja} vs {jb}");
    }
}

#[test]
fn the_chain_solves_what_the_panda_solves() {
    let (p, c) = panda();
    for set in [TargetSet::General, TargetSet::TopDown] {
        let targets = p.reachable_targets(set, 11, 300);
        let solved = targets
            .iter()
            .filter(|t| {
                c.ik(t, &HOME, &IkOptions::default()).is_ok_and(|s| {
                    let r = c.tcp(&s.q).unwrap_or_else(|e| panic!("{e}"));
                    (r.translation.vector - t.translation.vector).norm() < 2e-4
                        && s.q
                            .iter()
                            .zip(c.joints())
                            .all(|(v, j)| *v >= j.lower && *v <= j.upper)
                })
            })
            .count();
        assert!(
            solved * 1000 >= targets.len() * 995,
            "{set:?}: {solved} of {}",
            targets.len()
        );
    }
}

#[test]
fn jacobians_match_finite_differences_with_a_prismatic_joint() {
    let joints = vec![
        joint(
            "a",
            JointKind::Revolute,
            Isometry3::translation(0.0, 0.0, 0.2),
            Vector3::z(),
        ),
        joint(
            "lift",
            JointKind::Prismatic,
            Isometry3::translation(0.1, 0.0, 0.0),
            Vector3::z(),
        ),
        joint(
            "b",
            JointKind::Revolute,
            Isometry3::translation(0.0, 0.3, 0.0),
            Vector3::new(1.0, 1.0, 0.0),
        ),
        joint(
            "c",
            JointKind::Revolute,
            Isometry3::translation(0.2, 0.0, 0.1) * math::rot_x(FRAC_PI_2),
            Vector3::y(),
        ),
    ];
    let c = SerialChain::new(
        Isometry3::identity(),
        joints,
        Isometry3::translation(0.0, 0.0, 0.1),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let q = [0.3, 0.2, -0.7, 1.1];
    let (tcp, j) = ArmModel::<4>::tcp_jacobian(&Fixed::<4>(&c), &q);
    let h = 1e-6;
    for i in 0..4 {
        let mut qp = q;
        qp[i] += h;
        let tp = c.tcp(&qp).unwrap_or_else(|e| panic!("{e}"));
        let lin = (tp.translation.vector - tcp.translation.vector) / h;
        let ang = (tp.rotation * tcp.rotation.inverse()).scaled_axis() / h;
        for r in 0..3 {
            assert!((lin[r] - j[(r, i)]).abs() < 1e-5, "joint {i} linear {r}");
            assert!(
                (ang[r] - j[(r + 3, i)]).abs() < 1e-5,
                "joint {i} angular {r}"
            );
        }
    }
}

#[test]
fn a_five_joint_arm_reaches_what_it_can_and_refuses_the_rest_with_the_reason() {
    let c = five();
    // A pose it takes: the TCP of one of its own configurations.
    let q = [0.4, 0.5, -0.9, 1.0, 0.3];
    let target = c.tcp(&q).unwrap_or_else(|e| panic!("{e}"));
    let s = c
        .ik(&target, &c.zero(), &IkOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let r = c.tcp(&s.q).unwrap_or_else(|e| panic!("{e}"));
    assert!((r.translation.vector - target.translation.vector).norm() < 2e-4);
    // The same point, with the tool yawed 90° about the vertical away from the plane
    // the arm moves in: five joints cannot point there and keep the position.
    let twisted =
        Isometry3::from_parts(target.translation, math::rot_z(FRAC_PI_2) * target.rotation);
    match c.ik(&twisted, &c.zero(), &IkOptions::default()) {
        Err(IkError::NoSolution {
            orientation_error_rad,
            ..
        }) => assert!(orientation_error_rad > 0.01, "{orientation_error_rad}"),
        other => panic!("expected an orientation it cannot take, got {other:?}"),
    }
    // Out of reach: refused at once.
    let far = Isometry3::from_parts(Translation3::new(2.0, 0.0, 0.1), target.rotation);
    match c.ik(&far, &c.zero(), &IkOptions::default()) {
        Err(IkError::NoSolution {
            position_error_m, ..
        }) => assert!(position_error_m > 1.0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unusable_chains_are_refused_naming_the_joint() {
    let mut js: Vec<ChainJoint> = five().joints().to_vec();
    assert_eq!(
        SerialChain::new(
            Isometry3::identity(),
            js[..3].to_vec(),
            Isometry3::identity()
        )
        .err(),
        Some(ChainError::UnsupportedDof(3))
    );
    js[2].upper = js[2].lower;
    let e = SerialChain::new(Isometry3::identity(), js.clone(), Isometry3::identity())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("elbow") && e.contains("not a range"), "{e}");
    js[2].upper = 1.0;
    js[3].velocity = 0.0;
    let e = SerialChain::new(Isometry3::identity(), js.clone(), Isometry3::identity())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("pitch") && e.contains("velocity"), "{e}");
    js[3].velocity = 1.0;
    let c = SerialChain::new(Isometry3::identity(), js, Isometry3::identity())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.tcp(&[0.0; 3]).err(),
        Some(ChainError::WrongLength { got: 3, dof: 5 })
    );
    assert_eq!(
        c.ik(
            &Isometry3::translation(f64::NAN, 0.0, 0.0),
            &c.zero(),
            &IkOptions::default()
        )
        .err(),
        Some(IkError::NonFinite)
    );
    assert_eq!(
        c.ik(&Isometry3::identity(), &[0.0; 7], &IkOptions::default())
            .err(),
        Some(IkError::BadSeed { got: 7, dof: 5 })
    );
}
