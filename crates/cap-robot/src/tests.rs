//! Loading the catalogue's real URDFs (fetched by `scripts/fetch-robots.sh`), the
//! Panda's URDF against cap's own Panda model, broken descriptions refused naming the
//! file and the link or joint, and mutated URDFs that must never panic.

use std::path::{Path, PathBuf};

use cap_core::ik::SplitMix;
use cap_core::kinematics::{IkOptions, Panda};
use cap_core::nalgebra::Isometry3;

use super::*;

fn data() -> PathBuf {
    let d = cap_core::paths::data_dir();
    let probe = ARMS[0].urdf_path(&d);
    assert!(
        probe.is_file(),
        "{} is missing: run `bash scripts/fetch-robots.sh` (setup.sh does)",
        probe.display()
    );
    d
}

const TWO_LINK: &str = r#"<robot name="t">
  <link name="base"/><link name="a"/><link name="b"/><link name="c"/><link name="d"/><link name="tool"/>
  <joint name="j1" type="revolute"><parent link="base"/><child link="a"/><origin xyz="0 0 0.1"/><axis xyz="0 0 1"/><limit lower="-2" upper="2" velocity="1" effort="5"/></joint>
  <joint name="j2" type="revolute"><parent link="a"/><child link="b"/><origin xyz="0 0 0.2"/><axis xyz="0 1 0"/><limit lower="-2" upper="2" velocity="1" effort="5"/></joint>
  <joint name="j3" type="revolute"><parent link="b"/><child link="c"/><origin xyz="0.2 0 0"/><axis xyz="0 1 0"/><limit lower="-2" upper="2" velocity="1" effort="5"/></joint>
  <joint name="fixed" type="fixed"><parent link="c"/><child link="d"/><origin xyz="0.05 0 0"/></joint>
  <joint name="j4" type="revolute"><parent link="d"/><child link="tool"/><origin xyz="0.1 0 0"/><axis xyz="1 0 0"/><limit lower="-2" upper="2" velocity="1" effort="5"/></joint>
</robot>"#;

fn parsed(text: &str) -> Result<RobotDescription, RobotError> {
    parse(text, Path::new("/robots/t.urdf"))
}

fn message(r: Result<impl std::fmt::Debug, RobotError>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_chain_folds_fixed_joints_and_takes_the_limits() {
    let d = parsed(TWO_LINK).unwrap_or_else(|e| panic!("{e}"));
    let c = d
        .chain(
            "base",
            "tool",
            Isometry3::translation(0.0, 0.0, 0.0),
            Isometry3::identity(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.dof(), 4);
    assert_eq!(c.joints()[3].name, "j4");
    // The fixed joint's 5 cm is in j4's origin.
    assert!((c.joints()[3].origin.translation.x - 0.15).abs() < 1e-12);
    assert_eq!(
        (
            c.joints()[1].lower,
            c.joints()[1].upper,
            c.joints()[1].velocity
        ),
        (-2.0, 2.0, 1.0)
    );
    let tcp = c.tcp(&[0.0; 4]).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        (tcp.translation.vector - cap_core::nalgebra::Vector3::new(0.35, 0.0, 0.3)).norm() < 1e-12
    );
}

#[test]
fn broken_descriptions_name_the_file_and_the_link_or_joint() {
    let e = message(parsed("<robot name='x'><link name='a'>"));
    assert!(
        e.contains("/robots/t.urdf") && e.contains("not a valid URDF"),
        "{e}"
    );
    let e = message(parsed(&TWO_LINK.replace(
        r#"<parent link="b"/><child link="c"/>"#,
        r#"<parent link="b"/><child link="b"/>"#,
    )));
    assert!(e.contains("link `b`") && e.contains("two joints"), "{e}");
    let d = parsed(TWO_LINK).unwrap_or_else(|e| panic!("{e}"));
    let e = message(d.chain("tool", "base", Isometry3::identity(), Isometry3::identity()));
    assert!(
        e.contains("no chain of joints from `tool` down to `base`"),
        "{e}"
    );
    let e = message(d.chain(
        "base",
        "gripper",
        Isometry3::identity(),
        Isometry3::identity(),
    ));
    assert!(e.contains("no link `gripper`") && e.contains("tool"), "{e}");
    let no_limit = TWO_LINK.replace(
        r#"<limit lower="-2" upper="2" velocity="1" effort="5"/></joint>
  <joint name="j3""#,
        r#"</joint>
  <joint name="j3""#,
    );
    let d = parsed(&no_limit).unwrap_or_else(|e| panic!("{e}"));
    let e = message(d.chain("base", "tool", Isometry3::identity(), Isometry3::identity()));
    assert!(
        e.contains("joint `j2`") && e.contains("no position limits"),
        "{e}"
    );
    let floating = TWO_LINK.replace(
        r#"name="j3" type="revolute""#,
        r#"name="j3" type="floating""#,
    );
    let d = parsed(&floating).unwrap_or_else(|e| panic!("{e}"));
    let e = message(d.chain("base", "tool", Isometry3::identity(), Isometry3::identity()));
    assert!(e.contains("joint `j3`") && e.contains("Floating"), "{e}");
    let three = parsed(TWO_LINK).unwrap_or_else(|e| panic!("{e}"));
    let e = message(three.chain("base", "c", Isometry3::identity(), Isometry3::identity()));
    assert!(e.contains("3 moving joints"), "{e}");
    let dangling = TWO_LINK.replace(r#"<child link="tool"/>"#, r#"<child link="nowhere"/>"#);
    let e = message(parsed(&dangling));
    assert!(e.contains("joint `j4`") && e.contains("`nowhere`"), "{e}");
}

#[test]
fn a_missing_mesh_names_the_urdf_and_the_link() {
    let with_mesh = TWO_LINK.replace(
        r#"<link name="b"/>"#,
        r#"<link name="b"><collision><geometry><mesh filename="package://nothing/meshes/b.stl"/></geometry></collision></link>"#,
    );
    let d = parsed(&with_mesh).unwrap_or_else(|e| panic!("{e}"));
    let e = message(d.geometry(&[]));
    assert!(
        e.contains("/robots/t.urdf")
            && e.contains("link `b`")
            && e.contains("package://nothing/meshes/b.stl"),
        "{e}"
    );
}

#[test]
fn the_catalogue_arms_load_with_their_meshes() {
    let data = data();
    for (arm, dof) in ARMS.iter().zip([7, 6, 5, 7]) {
        let (d, c) = arm
            .load(&data, Isometry3::identity())
            .unwrap_or_else(|e| panic!("{}: {e}", arm.name));
        assert_eq!(c.dof(), dof, "{}", arm.name);
        let g = d
            .geometry(&[arm.package_root(&data)])
            .unwrap_or_else(|e| panic!("{}: {e}", arm.name));
        assert!(
            g.iter().any(|p| matches!(p.shape, Shape::Mesh { .. })),
            "{}",
            arm.name
        );
        assert!(
            g.iter().any(|p| p.visual) && g.iter().any(|p| !p.visual),
            "{}",
            arm.name
        );
        match arm.gripper {
            Gripper::Fingers { joints, .. } => {
                for j in joints {
                    assert!(d.joint(j).is_ok(), "{}: {j}", arm.name);
                }
            }
            Gripper::Jaw { joint, .. } => assert!(d.joint(joint).is_ok(), "{}", arm.name),
            Gripper::Mounted { .. } => {}
        }
    }
}

#[test]
fn every_catalogue_arms_collision_meshes_read_as_solids_of_link_size() {
    let data = data();
    for arm in &ARMS {
        let d = load(arm.urdf_path(&data)).unwrap_or_else(|e| panic!("{e}"));
        let meshes = d
            .collision_meshes(&[arm.package_root(&data)])
            .unwrap_or_else(|e| panic!("{}: {e}", arm.name));
        assert!(
            meshes.len() >= 5,
            "{}: {} collision meshes",
            arm.name,
            meshes.len()
        );
        for (g, m) in &meshes {
            let (lo, hi) = m.bounds();
            let size = (0..3).map(|k| hi[k] - lo[k]).fold(0.0, f64::max);
            // Metres, not millimetres: a link of an arm is between 1 cm and 1 m.
            assert!(
                (0.01..1.0).contains(&size),
                "{}: {}: {size} m",
                arm.name,
                g.link
            );
        }
    }
}

#[test]
fn the_panda_urdf_is_caps_panda() {
    let data = data();
    let base = Isometry3::translation(0.0, 0.0, 0.0);
    let (_, c) = ARMS[0].load(&data, base).unwrap_or_else(|e| panic!("{e}"));
    let p = Panda::new(base);
    let mut rng = SplitMix(3);
    let (lo, hi) = c.limits();
    for _ in 0..100 {
        let q: Vec<f64> = lo
            .iter()
            .zip(&hi)
            .map(|(l, h)| l + (h - l) * rng.unit())
            .collect();
        let mut qa = [0.0; 7];
        qa.copy_from_slice(&q);
        let (a, b) = (p.tcp(&qa), c.tcp(&q).unwrap_or_else(|e| panic!("{e}")));
        assert!(
            (a.translation.vector - b.translation.vector).norm() < 1e-6,
            "{a} vs {b}"
        );
        assert!(a.rotation.angle_to(&b.rotation) < 1e-6);
    }
}

#[test]
fn every_catalogue_arm_solves_poses_its_own_configurations_reach() {
    let data = data();
    for arm in &ARMS {
        let (_, c) = arm
            .load(&data, Isometry3::identity())
            .unwrap_or_else(|e| panic!("{e}"));
        let (lo, hi) = c.limits();
        let mut rng = SplitMix(17);
        let n = 100;
        let solved = (0..n)
            .filter(|_| {
                let q: Vec<f64> = lo
                    .iter()
                    .zip(&hi)
                    .map(|(l, h)| l + 0.05 + (h - l - 0.1) * rng.unit())
                    .collect();
                let target = c.tcp(&q).unwrap_or_else(|e| panic!("{e}"));
                c.ik(&target, &c.zero(), &IkOptions::default()).is_ok()
            })
            .count();
        assert!(solved * 100 >= n * 95, "{}: {solved} of {n}", arm.name);
    }
}

#[test]
fn mutated_urdfs_are_loaded_or_refused_never_a_panic() {
    let data = data();
    let mut rng = SplitMix(99);
    for arm in &ARMS {
        let text = std::fs::read_to_string(arm.urdf_path(&data)).unwrap_or_default();
        let path = arm.urdf_path(&data);
        for _ in 0..40 {
            let mut t = text.clone();
            for _ in 0..3 {
                let len = t.len().max(1);
                let at = (rng.unit() * len as f64) as usize;
                let at = (0..=at).rev().find(|i| t.is_char_boundary(*i)).unwrap_or(0);
                let end = (at + 1 + (rng.unit() * 40.0) as usize).min(t.len());
                let end = (end..=t.len())
                    .find(|i| t.is_char_boundary(*i))
                    .unwrap_or(t.len());
                let choice = (rng.unit() * 5.0) as u32;
                let with = [
                    "",
                    "nan",
                    "1e999",
                    "-",
                    "<joint name=\"x\" type=\"revolute\">",
                ][choice as usize];
                t.replace_range(at..end, with);
            }
            let outcome = std::panic::catch_unwind(|| {
                parse(&t, &path).and_then(|d| {
                    d.chain(
                        arm.base,
                        arm.tool,
                        Isometry3::identity(),
                        Isometry3::identity(),
                    )?;
                    d.geometry(&[arm.package_root(&data)])
                })
            });
            assert!(
                outcome.is_ok(),
                "{}: a mutated URDF panicked the loader",
                arm.name
            );
        }
    }
}
