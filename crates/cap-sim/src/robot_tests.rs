use super::*;
use cap_core::kinematics::Joints;
use cap_core::robot::{JointTrajectory, SafetyGate, SafetyLimits};

fn spec(arm: &str) -> RobotSpec {
    RobotSpec {
        arm: ArmSource::Catalogue(arm.into()),
        base_m: Point3::new(0.1, -0.2, 0.0),
        base_yaw_rad: 0.0,
        home: None,
        workspace_min_m: Point3::new(-1.0, -1.0, 0.0),
        workspace_max_m: Point3::new(1.0, 1.0, 1.0),
        speed: 1.0,
    }
}

fn data() -> PathBuf {
    let d = cap_core::paths::data_dir();
    assert!(
        cap_robot::ARMS[0].urdf_path(&d).is_file(),
        "run `bash scripts/fetch-robots.sh` (setup.sh does)"
    );
    d
}

#[test]
fn every_catalogue_arm_loads_with_its_urdf_limits_a_ready_pose_and_a_reach_band() {
    let data = data();
    for arm in &cap_robot::ARMS {
        let r = Robot::load(&spec(arm.name), &data).unwrap_or_else(|e| panic!("{}: {e}", arm.name));
        let k = r.kinematics();
        let desc = cap_robot::load(arm.urdf_path(&data)).unwrap_or_else(|e| panic!("{e}"));
        for (i, name) in k.joint_names().iter().enumerate() {
            let j = desc.joint(name).unwrap_or_else(|e| panic!("{e}"));
            if j.joint_type == cap_robot::urdf_rs::JointType::Revolute {
                assert_eq!(k.q_min()[i], j.limit.lower, "{}: {name}", arm.name);
                assert_eq!(k.q_max()[i], j.limit.upper, "{}: {name}", arm.name);
            }
            assert_eq!(k.v_max()[i], j.limit.velocity, "{}: {name}", arm.name);
        }
        for i in k.dof()..7 {
            assert_eq!((k.q_min()[i], k.q_max()[i]), (0.0, 0.0), "padding");
        }
        // Ready: within limits, tool straight down, in front of the (moved) base.
        let home = k.home();
        assert!(k.within_limits(home, 1e-9), "{}", arm.name);
        let tcp = k.tcp(home);
        assert!((tcp.rotation * Vector3::z()).z < -0.999, "{}", arm.name);
        assert!(tcp.translation.x > 0.1 + 0.05, "{}: {tcp:?}", arm.name);
        assert!(tcp.translation.z > 0.0, "{}: above the table", arm.name);
        let b = r.reach_band();
        assert!(
            0.0 <= b.min_radius_m && b.min_radius_m + 0.05 < b.max_radius_m && b.max_radius_m < 1.2,
            "{}: {b:?}",
            arm.name
        );
        assert_eq!(r.gripper_max_width_m(), arm.gripper.max_width_m());
        // cap's gripper is there, and the description's own finger/jaw links are not.
        let names: Vec<&str> = r.parts().iter().map(|p| p.name.as_str()).collect();
        for n in ["hand", "finger_left", "finger_right"] {
            assert!(names.contains(&n), "{}: {names:?}", arm.name);
        }
        for own in [
            "panda_leftfinger",
            "panda_rightfinger",
            "moving_jaw_so101_v1_link",
        ] {
            assert!(!names.contains(&own), "{}: {own}", arm.name);
        }
    }
}

#[test]
fn a_five_joint_arm_gate_refuses_any_motion_of_the_padding() {
    let r = Robot::load(&spec("so101"), &data()).unwrap_or_else(|e| panic!("{e}"));
    let k = r.kinematics().clone();
    let limits = SafetyLimits::for_arm(
        &k,
        r.gripper_max_width_m(),
        Point3::new(-1.0, -1.0, -1.0),
        Point3::new(1.0, 1.0, 1.0),
    );
    let gate = SafetyGate::new(limits, k.clone());
    let home: Joints = *k.home();
    let mut next = home;
    next[0] += 0.001;
    let ok = gate.admit(
        &home,
        JointTrajectory {
            dt_s: 1.0 / 240.0,
            points: vec![next],
        },
    );
    assert!(ok.is_ok(), "{ok:?}");
    let mut pad = home;
    pad[5] = 0.001;
    let refused = gate.admit(
        &home,
        JointTrajectory {
            dt_s: 1.0 / 240.0,
            points: vec![pad],
        },
    );
    assert!(
        matches!(
            refused,
            Err(cap_core::robot::GateError::JointPosition { joint: 5, .. })
        ),
        "{refused:?}"
    );
    assert!(gate.admit_gripper(0.07).is_ok());
    assert!(gate.admit_gripper(0.08).is_err(), "the jaw opens 7 cm");
}

#[test]
fn the_builtin_arm_needs_no_files_and_an_unknown_arm_lists_the_catalogue() {
    let mut s = spec("builtin");
    s.arm = ArmSource::Builtin;
    let r = Robot::load(&s, Path::new("/nonexistent")).unwrap_or_else(|e| panic!("{e}"));
    assert!(r.is_builtin());
    assert_eq!(r.reach_band(), PANDA_REACH);
    let e = Robot::load(&spec("kuka"), Path::new("/nonexistent")).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("no arm `kuka`") && text.contains("xarm7"),
        "{text}"
    );
    let e = Robot::load(&spec("ur5"), Path::new("/nonexistent")).unwrap_err();
    assert!(
        matches!(e, RobotLoadError::NotFetched { .. }) && e.to_string().contains("fetch-robots.sh"),
        "{e}"
    );
}

#[test]
fn a_urdf_arm_is_drawn_for_viewers_with_its_visual_meshes_within_budget() {
    data();
    let mut scene = cap_core::scene::Scene::load(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenes/arms/tabletop_ur5.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    scene.robot.base_m = Point3::origin();
    let w =
        crate::world::World::new(std::sync::Arc::new(scene), 0).unwrap_or_else(|e| panic!("{e}"));
    let r = w.robot();
    let meshes = r.visual_meshes();
    assert!(
        meshes.len() >= 6,
        "{:?}",
        meshes.iter().map(|m| &m.entity).collect::<Vec<_>>()
    );
    for m in meshes {
        assert!(
            m.triangles.len() <= crate::robot_visual::TRIANGLE_BUDGET * 2,
            "{}",
            m.entity
        );
        assert_eq!(m.vertices.len(), m.colors.len());
    }
    let bodies = w.visual_bodies();
    let forearm = bodies
        .iter()
        .find(|b| b.path == "robot/forearm_link")
        .unwrap_or_else(|| panic!("no forearm"));
    let visual = meshes
        .iter()
        .find(|m| m.entity == "robot/forearm_link")
        .unwrap();
    assert_eq!(
        forearm.triangles.len(),
        visual.triangles.len(),
        "drawn with the visual mesh"
    );
    // The hull the camera renders is another, coarser shape.
    let hull: usize = w
        .render_model()
        .meshes
        .iter()
        .filter(|m| m.label.path == "robot/forearm_link")
        .map(|m| m.triangles.len())
        .sum();
    assert_ne!(hull, visual.triangles.len());
}
