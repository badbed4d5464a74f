use super::*;
use crate::goal::{execute, Tolerances};
use cap_core::arm::ArmKinematics;
use cap_core::kinematics::HOME;
use cap_core::nalgebra::{Isometry3, Point3};
use cap_core::robot::{DynamicLimits, JointTrajectory, SafetyGate, SafetyLimits};
use std::sync::Arc;

fn panda_hello() -> RobotHello {
    let arm = ArmKinematics::panda(Isometry3::identity());
    RobotHello::for_arm("panda", &arm, &DynamicLimits::panda(), 0.08)
}

fn state(seq: u64) -> State {
    State {
        seq,
        stamp: 1.5,
        joint_state: JointState {
            name: panda_hello().joint_names,
            position: HOME.to_vec(),
            velocity: vec![0.0; 7],
        },
        gripper: Some(GripperState {
            width: 0.08,
            grasped: false,
        }),
        mode: Mode::Idle,
        active_goal: None,
        error: None,
    }
}

#[test]
fn messages_are_tagged_json_with_ros_field_names_and_round_trip() {
    let text = to_text(&ServerMessage::State(state(3))).unwrap_or_default();
    assert!(text.starts_with(r#"{"type":"state","seq":3,"#), "{text}");
    assert!(
        text.contains(r#""joint_state":{"name":["panda_joint1""#),
        "{text}"
    );
    assert_eq!(parse_server(&text), Ok(ServerMessage::State(state(3))));
    let msgs = vec![
        ClientMessage::Hello(ClientHello {
            protocol: PROTOCOL_VERSION,
            client: "cap".into(),
        }),
        ClientMessage::Cancel {
            goal_id: "g1".into(),
        },
        ClientMessage::Gripper {
            id: "c1".into(),
            position: 0.02,
            max_effort: 30.0,
        },
        ClientMessage::Recover,
        ClientMessage::Heartbeat { seq: 9 },
    ];
    for m in msgs {
        let t = to_text(&m).unwrap_or_default();
        assert_eq!(parse_client(&t), Ok(m), "{t}");
    }
    assert_eq!(
        to_text(&ClientMessage::Recover).unwrap_or_default(),
        r#"{"type":"recover"}"#
    );
    assert!(matches!(
        parse_server(r#"{"type":"state","seq":"x"}"#),
        Err(ProtocolError::Malformed(_))
    ));
    assert!(matches!(
        parse_server("not json"),
        Err(ProtocolError::Malformed(_))
    ));
    assert!(matches!(
        parse_client(r#"{"type":"launch_missiles"}"#),
        Err(ProtocolError::Malformed(_))
    ));
    assert_eq!(
        RosDuration::from_secs(1.25),
        RosDuration {
            sec: 1,
            nanosec: 250_000_000
        }
    );
    assert_eq!(RosDuration::from_secs(f64::NAN).as_secs(), 0.0);
}

#[test]
fn a_hello_is_checked_field_by_field() {
    assert_eq!(check_hello(&panda_hello()), Ok(()));
    let bad = |f: &dyn Fn(&mut RobotHello), expect: &str| {
        let mut h = panda_hello();
        f(&mut h);
        let e = check_hello(&h)
            .map(|()| String::new())
            .unwrap_or_else(|e| e.to_string());
        assert!(e.contains(expect), "`{expect}` not in `{e}`");
    };
    bad(&|h| h.protocol = 2, "protocol 2");
    bad(
        &|h| h.limits.jerk.pop().map_or((), |_| ()),
        "limits.jerk: 6 values for 7 joints",
    );
    bad(&|h| h.limits.velocity[3] = f64::NAN, "limits.velocity[3]");
    bad(
        &|h| h.limits.acceleration[1] = 0.0,
        "limits.acceleration[1]: not positive",
    );
    bad(
        &|h| h.limits.position_lower[0] = 3.0,
        "limits.position_lower[0]",
    );
    bad(
        &|h| h.joint_names[6] = "panda_joint1".into(),
        "joint_names[6]",
    );
    bad(&|h| h.state_rate_hz = 10.0, "state_rate_hz");
    bad(&|h| h.watchdog_ms = 0, "watchdog_ms");
    bad(&|h| h.joint_names.clear(), "joint_names");
}

#[test]
fn states_and_objects_are_checked_against_the_hello() {
    let h = panda_hello();
    assert_eq!(check_state(&state(5), &h, Some(4)), Ok(()));
    let mut s = state(5);
    s.joint_state.position[2] = f64::INFINITY;
    assert!(
        check_state(&s, &h, None).is_err_and(|e| e.to_string().contains("joint_state.position[2]"))
    );
    let mut s = state(5);
    s.joint_state.name.swap(0, 1);
    assert!(check_state(&s, &h, None).is_err_and(|e| e.to_string().contains("joint_state.name")));
    assert!(check_state(&state(4), &h, Some(4)).is_err_and(|e| e.to_string().contains("seq")));
    let mut s = state(6);
    s.mode = Mode::Estop;
    assert!(check_state(&s, &h, None).is_err_and(|e| e.to_string().contains("error")));
    s.error = Some(RobotFault {
        code: "estop".into(),
        message: "button".into(),
    });
    assert_eq!(check_state(&s, &h, None), Ok(()));
    let ok = ObjectPose {
        name: "red_block".into(),
        position: [0.4, 0.1, 0.02],
        orientation: [0.0, 0.0, 0.0, 1.0],
    };
    assert_eq!(check_objects(std::slice::from_ref(&ok)), Ok(()));
    let mut skew = ok.clone();
    skew.orientation = [0.0, 0.0, 0.5, 0.5];
    assert!(
        check_objects(&[ok, skew]).is_err_and(|e| e.to_string().contains("objects[1].orientation"))
    );
}

#[test]
fn a_gated_trajectory_becomes_a_goal_the_robot_side_accepts() {
    let arm = Arc::new(ArmKinematics::panda(Isometry3::identity()));
    let limits = SafetyLimits::for_arm(
        &arm,
        0.08,
        Point3::new(-1.0, -1.0, -1.0),
        Point3::new(1.0, 1.0, 1.5),
    );
    let gate = SafetyGate::new(limits, arm).with_dynamics(Some(DynamicLimits::panda()));
    let points: Vec<_> = (1..=240)
        .map(|k| {
            let t = f64::from(k) / 240.0;
            let mut q = HOME;
            q[0] += 0.3 * t * t * t * (10.0 - 15.0 * t + 6.0 * t * t);
            q
        })
        .collect();
    let gated = gate
        .admit(
            &HOME,
            JointTrajectory {
                dt_s: 1.0 / 240.0,
                points,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let h = panda_hello();
    let e = execute(
        "g7",
        &gated,
        &HOME,
        &h.joint_names,
        4,
        &Tolerances::default(),
        10.0,
    );
    assert_eq!(e.trajectory.points.len(), 60);
    let last = &e.trajectory.points[59];
    assert!((last.time_from_start.as_secs() - 1.0).abs() < 1e-9);
    assert!(
        last.velocities.iter().all(|v| *v == 0.0),
        "at rest at the end"
    );
    let mid = &e.trajectory.points[29];
    // The quintic's speed at mid-way is 1.875 × 0.3 rad / 1 s.
    assert!(
        (mid.velocities[0] - 0.5625).abs() < 0.01,
        "{}",
        mid.velocities[0]
    );
    assert_eq!(check_execute(&e, &h, 1.0), Ok(()));
    assert_eq!(
        check_execute(&e, &h, 11.0).map_err(|(c, _)| c),
        Err(codes::OLD_HEADER_TIMESTAMP)
    );
    let mut wrong = e.clone();
    wrong.trajectory.joint_names.reverse();
    assert_eq!(
        check_execute(&wrong, &h, 1.0).map_err(|(c, _)| c),
        Err(codes::INVALID_JOINTS)
    );
    let mut late = e.clone();
    late.trajectory.points[10].time_from_start = RosDuration::from_secs(0.01);
    assert_eq!(
        check_execute(&late, &h, 1.0).map_err(|(c, _)| c),
        Err(codes::INVALID_GOAL)
    );
    let mut far = e;
    far.trajectory.points[3].positions[3] = 0.5;
    assert!(check_execute(&far, &h, 1.0)
        .is_err_and(|(c, why)| c == codes::INVALID_GOAL && why.contains("panda_joint4")));
}
