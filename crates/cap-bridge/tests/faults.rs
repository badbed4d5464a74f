//! The bridge against the simulated arm server, over real WebSockets on ephemeral ports
//! of 127.0.0.1: a goal runs and reports success once the arm stopped; a dropped
//! socket, a hung robot, an e-stop and a version mismatch each give their typed
//! failure within their bound; a client that goes silent or dies mid-trajectory leaves
//! the arm stopped within the robot's watchdog, by the arm's own record of motion.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cap_bridge::client::{BridgeClient, BridgeError, ClientOptions};
use cap_bridge::goal::{execute, Tolerances};
use cap_bridge::link::Link;
use cap_bridge::protocol::*;
use cap_bridge::server::{Faults, SimArm};
use cap_core::arm::ArmKinematics;
use cap_core::kinematics::{Joints, HOME};
use cap_core::nalgebra::{Isometry3, Point3};
use cap_core::robot::{DynamicLimits, GateError, JointTrajectory, SafetyGate, SafetyLimits};

fn hello() -> RobotHello {
    let arm = ArmKinematics::panda(Isometry3::identity());
    RobotHello::for_arm("panda", &arm, &DynamicLimits::panda(), 0.08)
}

fn gate() -> SafetyGate {
    let arm = Arc::new(ArmKinematics::panda(Isometry3::identity()));
    let limits = SafetyLimits::for_arm(
        &arm,
        0.08,
        Point3::new(-1.0, -1.0, -1.0),
        Point3::new(1.0, 1.0, 1.5),
    );
    SafetyGate::new(limits, arm).with_dynamics(Some(DynamicLimits::panda()))
}

/// A quintic move of joint 1 by `delta` over `secs`, from `from`, through the gate.
fn goal(id: &str, from: &Joints, delta: f64, secs: f64, robot_now: f64) -> Execute {
    let n = (secs * 240.0).round() as usize;
    let points = (1..=n)
        .map(|k| {
            let t = k as f64 / n as f64;
            let mut q = *from;
            q[0] += delta * t * t * t * (10.0 - 15.0 * t + 6.0 * t * t);
            q
        })
        .collect();
    let gated = gate()
        .admit(
            from,
            JointTrajectory {
                dt_s: 1.0 / 240.0,
                points,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let names = hello().joint_names;
    execute(
        id,
        &gated,
        from,
        &names,
        4,
        &Tolerances::default(),
        robot_now + 5.0,
    )
}

fn connect(server: &SimArm) -> BridgeClient {
    let c = BridgeClient::connect(&server.url(), ClientOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    c.wait_for_state().unwrap_or_else(|e| panic!("{e}"));
    c
}

fn joints(s: &State) -> Joints {
    let mut q = [0.0; 7];
    q.copy_from_slice(&s.joint_state.position);
    q
}

#[test]
fn a_goal_runs_and_succeeds_once_the_arm_has_stopped() {
    let server = SimArm::start(hello(), HOME.to_vec(), Faults::default()).unwrap();
    let c = connect(&server);
    let s = c.wait_for_state().unwrap();
    let g = goal("g1", &joints(&s), 0.3, 0.5, s.stamp);
    let t = Instant::now();
    c.execute(&g, 0.5).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        t.elapsed() >= Duration::from_millis(450),
        "{:?}",
        t.elapsed()
    );
    let s = c.wait_for_state().unwrap();
    assert!((s.joint_state.position[0] - (HOME[0] + 0.3)).abs() < 1e-6);
    assert_eq!(s.mode, Mode::Idle);
    // Stale goals are refused by the robot.
    let stale = goal("g2", &joints(&s), -0.1, 0.3, s.stamp - 10.0);
    assert!(matches!(
        c.execute(&stale, 0.3),
        Err(BridgeError::Refused {
            code: codes::OLD_HEADER_TIMESTAMP,
            ..
        })
    ));
}

#[test]
fn a_dropped_socket_is_link_lost_and_the_arm_holds() {
    let faults = Faults {
        drop_after_s: Some(0.2),
        ..Faults::default()
    };
    let server = SimArm::start(hello(), HOME.to_vec(), faults).unwrap();
    let c = connect(&server);
    let s = c.wait_for_state().unwrap();
    let g = goal("g1", &joints(&s), 0.5, 1.0, s.stamp);
    let t = Instant::now();
    let e = c.execute(&g, 1.0).unwrap_err();
    assert!(matches!(e, BridgeError::LinkLost(_)), "{e}");
    assert!(
        t.elapsed() < Duration::from_millis(600),
        "{:?}",
        t.elapsed()
    );
    let r = server.record();
    let dropped = r.event_s("dropped").unwrap();
    assert!(r.last_motion_s().unwrap() <= dropped + 0.01, "{r:?}");
}

#[test]
fn a_hung_robot_is_link_lost_within_the_timeout_and_the_cancel_stops_it() {
    let faults = Faults {
        hang_after_s: Some(0.2),
        ..Faults::default()
    };
    let server = SimArm::start(hello(), HOME.to_vec(), faults).unwrap();
    let c = connect(&server);
    let s = c.wait_for_state().unwrap();
    let g = goal("g1", &joints(&s), 0.6, 1.5, s.stamp);
    let t = Instant::now();
    let e = c.execute(&g, 1.5).unwrap_err();
    assert!(
        matches!(e, BridgeError::LinkLost(ref why) if why.contains("no state")),
        "{e}"
    );
    // 0.2 s in, then 200 ms of silence.
    assert!(
        t.elapsed() < Duration::from_millis(700),
        "{:?}",
        t.elapsed()
    );
    std::thread::sleep(Duration::from_millis(100));
    let r = server.record();
    let hung = r.event_s("hanging").unwrap();
    let cancelled = r.event_s("goal g1 cancelled").unwrap();
    assert!(cancelled - hung < 0.35, "{r:?}");
    assert!(r.last_motion_s().unwrap() <= cancelled + 0.01, "{r:?}");
}

#[test]
fn an_estop_latches_until_recover() {
    let faults = Faults {
        estop_after_s: Some(0.15),
        ..Faults::default()
    };
    let server = SimArm::start(hello(), HOME.to_vec(), faults).unwrap();
    let c = connect(&server);
    let s = c.wait_for_state().unwrap();
    let e = c
        .execute(&goal("g1", &joints(&s), 0.4, 1.0, s.stamp), 1.0)
        .unwrap_err();
    assert!(matches!(e, BridgeError::Estop(_)), "{e}");
    std::thread::sleep(Duration::from_millis(50));
    // Still latched: nothing is sent.
    assert!(matches!(c.check_link(), Err(BridgeError::Estop(_))));
    c.recover().unwrap();
    std::thread::sleep(Duration::from_millis(60));
    let s = c.wait_for_state().unwrap();
    assert_eq!(s.mode, Mode::Idle);
    c.execute(&goal("g2", &joints(&s), -0.1, 0.3, s.stamp), 0.3)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_version_mismatch_is_refused_at_connect() {
    let faults = Faults {
        version: Some(2),
        ..Faults::default()
    };
    let server = SimArm::start(hello(), HOME.to_vec(), faults).unwrap();
    let e = BridgeClient::connect(&server.url(), ClientOptions::default())
        .err()
        .unwrap();
    assert!(
        matches!(e, BridgeError::Protocol(ProtocolError::Version { got: 2 })),
        "{e}"
    );
    let nobody = BridgeClient::connect("ws://127.0.0.1:9", ClientOptions::default())
        .err()
        .unwrap();
    assert!(matches!(nobody, BridgeError::Connect { .. }), "{nobody}");
}

#[test]
fn a_state_offset_is_a_start_mismatch_at_the_gate() {
    let faults = Faults {
        state_offset_rad: 0.02,
        ..Faults::default()
    };
    let server = SimArm::start(hello(), HOME.to_vec(), faults).unwrap();
    let c = connect(&server);
    let s = c.wait_for_state().unwrap();
    let planned = HOME;
    let e = gate()
        .admit_from(
            &planned,
            &joints(&s),
            JointTrajectory {
                dt_s: 1.0 / 240.0,
                points: vec![HOME],
            },
        )
        .unwrap_err();
    assert!(matches!(e, GateError::StartMismatch { .. }), "{e}");
}

/// A client of the raw protocol: hello, a goal, then silence (or gone).
fn raw_client(server: &SimArm, g: &Execute) -> Link {
    let stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    let mut link = Link::client(&server.url(), stream, Duration::from_secs(2)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Some(t) = link.poll().unwrap() {
            if matches!(parse_server(&t), Ok(ServerMessage::Hello(_))) {
                break;
            }
        }
    }
    let hello = ClientMessage::Hello(ClientHello {
        protocol: PROTOCOL_VERSION,
        client: "test".into(),
    });
    link.send(to_text(&hello).unwrap()).unwrap();
    link.send(to_text(&ClientMessage::Execute(g.clone())).unwrap())
        .unwrap();
    link
}

#[test]
fn a_client_that_goes_silent_or_dies_leaves_the_arm_stopped_within_the_watchdog() {
    for die in [false, true] {
        let server = SimArm::start(hello(), HOME.to_vec(), Faults::default()).unwrap();
        let g = goal("g1", &HOME, 0.8, 2.0, 0.0);
        let mut link = raw_client(&server, &g);
        // Read (and so drain) for a while: the arm moves; no heartbeats are sent.
        let quiet_from = server.now_s();
        let until = Instant::now() + Duration::from_millis(if die { 100 } else { 500 });
        while Instant::now() < until {
            if link.poll().is_err() {
                break;
            }
        }
        let gone_at = server.now_s();
        if die {
            drop(link);
        }
        std::thread::sleep(Duration::from_millis(500));
        let r = server.record();
        let stopped = r.last_motion_s().unwrap();
        if die {
            let halted = r.event_s("link_lost").or(r.event_s("watchdog")).unwrap();
            assert!(halted - gone_at < 0.25, "{r:?}");
            assert!(stopped <= halted + 0.01, "{r:?}");
        } else {
            let halted = r.event_s("watchdog").unwrap();
            assert!(halted - quiet_from < 0.2 + 0.05, "{r:?}");
            assert!(stopped <= halted + 0.01, "moved after the watchdog: {r:?}");
        }
        assert!(stopped < quiet_from + 1.0, "the 2 s goal was cut short");
    }
}

#[test]
fn a_reconnect_never_resumes_the_old_goal_and_finds_the_error_latched() {
    let faults = Faults {
        drop_after_s: Some(0.2),
        ..Faults::default()
    };
    let server = SimArm::start(hello(), HOME.to_vec(), faults).unwrap();
    let c = connect(&server);
    let s = c.wait_for_state().unwrap();
    let e = c
        .execute(&goal("g1", &joints(&s), 0.8, 2.0, s.stamp), 2.0)
        .unwrap_err();
    assert!(matches!(e, BridgeError::LinkLost(_)), "{e}");
    drop(c);
    let dropped = server.record().event_s("dropped").unwrap();
    // A new client: the arm is where the drop left it, no goal active, the error
    // latched; a new goal is refused until recover, and accepted after it.
    let c = BridgeClient::connect(&server.url(), ClientOptions::default()).unwrap();
    let err = c.wait_for_state().unwrap_err();
    assert!(matches!(err, BridgeError::RobotError { .. }), "{err}");
    let (s, _) = c.state().unwrap();
    assert_eq!(s.active_goal, None);
    assert_eq!(s.mode, Mode::Error);
    std::thread::sleep(Duration::from_millis(300));
    let r = server.record();
    assert!(
        r.last_motion_s().unwrap() <= dropped + 0.01,
        "resumed: {r:?}"
    );
    c.recover().unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    let s = loop {
        if let Ok(s) = c.check_link() {
            break s;
        }
        assert!(Instant::now() < deadline, "not recovered");
        std::thread::sleep(Duration::from_millis(5));
    };
    c.execute(&goal("g2", &joints(&s), -0.05, 0.3, s.stamp), 0.3)
        .unwrap_or_else(|e| panic!("{e}"));
}
