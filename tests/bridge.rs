//! `cap exec --robot` against `cap serve` (cap's simulation playing the robot), over
//! WebSockets on ephemeral ports of 127.0.0.1. A reference policy succeeds on the
//! robot after its simulation check; a program that fails in simulation never moves
//! the robot; each injected fault ends the run with its typed failure, the arm stopped
//! (by the server's own record) and the report and trace written; killing cap
//! mid-trajectory leaves the arm holding. Every wait is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{root, tmp};
use serde_json::Value;

const SCENE: &str = "scenes/tabletop.toml";
const PICK: &str = "examples/policies/red_on_blue.rhai";

/// A running `cap serve --once`, its address, and its event lines as they come.
struct Serve {
    child: Child,
    url: String,
    events: mpsc::Receiver<String>,
    record: std::path::PathBuf,
}

fn serve(name: &str, faults: &[&str]) -> Serve {
    let dir = tmp(name);
    std::fs::create_dir_all(&dir).unwrap();
    let record = dir.join("record.json");
    let mut args = vec![
        "serve",
        SCENE,
        "--once",
        "--max-s",
        "60",
        "--record",
        record.to_str().unwrap(),
    ];
    for f in faults {
        args.extend(["--fault", f]);
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_cap"))
        .current_dir(root())
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let url = first
        .strip_prefix("serving on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    Serve {
        child,
        url,
        events: rx,
        record,
    }
}

impl Serve {
    /// Wait (bounded) for the server to exit, and read its record.
    fn finish(mut self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "cap serve did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
        serde_json::from_str(&std::fs::read_to_string(&self.record).unwrap()).unwrap()
    }
}

fn event_s(record: &Value, what: &str) -> Option<f64> {
    record["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e[1].as_str() == Some(what))
        .and_then(|e| e[0].as_f64())
}

fn has_event(record: &Value, prefix: &str) -> bool {
    record["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e[1].as_str().is_some_and(|s| s.starts_with(prefix)))
}

/// `cap exec --robot` of `program` (task red_on_blue): exit code, report, record.
fn exec_on(name: &str, program: &str, faults: &[&str], extra: &[&str]) -> (i32, Value, Value) {
    let server = serve(name, faults);
    let out = tmp(&format!("{name}-out"));
    let mut args = vec![
        "exec",
        SCENE,
        program,
        "--task",
        "red_on_blue",
        "--robot",
        &server.url,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let o = common::cap(&args);
    let record = server.finish();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert!(out.join("trace.jsonl").exists(), "no trace for {name}");
    (o.status.code().unwrap_or(-1), report, record)
}

fn failure_kind(report: &Value) -> String {
    report["failure"]["kind"]
        .as_str()
        .or_else(|| report["robot"]["link_failure"]["kind"].as_str())
        .unwrap_or("")
        .to_owned()
}

#[test]
fn a_reference_policy_runs_on_the_robot_after_its_simulation_check() {
    let rrd = tmp("ok-rrd").with_extension("rrd");
    let (code, report, record) = exec_on("ok", PICK, &[], &["--save", rrd.to_str().unwrap()]);
    assert_eq!(code, 0, "{report:#}");
    // The recording holds commanded and measured joint positions side by side.
    let (ok, text) = common::rerun(&["rrd", "print", rrd.to_str().unwrap()]);
    assert!(ok, "{text}");
    for needle in ["/robot/joints/j1/commanded", "/robot/joints/j7/measured"] {
        assert!(
            text.contains(needle),
            "no {needle} in the recording:\n{text}"
        );
    }
    let r = &report["robot"];
    assert_eq!(r["sim_check"], "passed");
    assert_eq!(r["judged_from"], "the robot's reported object poses");
    assert!(r["motions"].as_u64().unwrap() >= 6, "{r}");
    assert!(r["link_failure"].is_null());
    assert!(has_event(&record, "goal g1 done"), "{record}");
    assert!(!has_event(&record, "watchdog") && !has_event(&record, "link_lost"));
}

#[test]
fn a_program_that_fails_in_simulation_never_moves_the_robot() {
    let dir = tmp("simfail-prog");
    std::fs::create_dir_all(&dir).unwrap();
    let program = dir.join("wrong.rhai");
    // Places the red block on the green one: the task (red on blue) fails.
    std::fs::write(
        &program,
        "pick(\"red_block\");\nplace_on(\"red_block\", \"green_block\");\n",
    )
    .unwrap();
    let (code, report, record) = exec_on("simfail", program.to_str().unwrap(), &[], &[]);
    assert_eq!(code, 1);
    assert_eq!(report["robot"]["sim_check"], "failed", "{report:#}");
    assert_eq!(report["robot"]["motions"], 0);
    assert!(!has_event(&record, "goal"), "the robot moved: {record}");
    assert!(record["last_motion_s"].is_null(), "{record}");
}

#[test]
fn skipping_the_simulation_check_is_said_in_the_report() {
    let (code, report, _) = exec_on("nocheck", PICK, &[], &["--no-sim-check"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["robot"]["sim_check"], "skipped");
}

/// A fault ends the run with `kind`, the arm stops within `bound_s` of the fault's
/// event, and nothing moves after it.
fn fault(name: &str, faults: &[&str], kind: &str, event: Option<&str>, bound_s: f64) {
    let (code, report, record) = exec_on(name, PICK, faults, &[]);
    assert_eq!(code, 1, "{name}: {report:#}");
    assert_eq!(failure_kind(&report), kind, "{name}: {report:#}");
    assert!(
        report["robot"]["link_failure"]["kind"].as_str() == Some(kind),
        "{name}: the link was not ended with {kind}: {report:#}"
    );
    if let Some(e) = event {
        let at = event_s(&record, e).unwrap_or_else(|| panic!("{name}: no {e}: {record}"));
        if let Some(last) = record["last_motion_s"].as_f64() {
            assert!(
                last <= at + bound_s,
                "{name}: moved {:.3} s after {e}",
                last - at
            );
        }
    }
}

#[test]
fn a_dropped_socket_is_link_lost_and_the_arm_holds() {
    fault(
        "drop",
        &["drop-after=0.3"],
        "link_lost",
        Some("dropped"),
        0.01,
    );
}

#[test]
fn a_hung_robot_is_link_lost() {
    // The robot stops talking but keeps the socket; cap's cancel is not heard, its
    // heartbeats stop when it exits, and the robot's watchdog stops the arm.
    fault(
        "hang",
        &["hang-after=0.3"],
        "link_lost",
        Some("hanging"),
        0.35,
    );
}

#[test]
fn an_estop_is_estop_and_the_arm_holds() {
    fault("estop", &["estop-after=0.3"], "estop", Some("estop"), 0.01);
}

#[test]
fn a_start_state_offset_is_a_start_mismatch_and_nothing_moves() {
    fault(
        "offset",
        &["state-offset=0.05"],
        "start_mismatch",
        None,
        0.0,
    );
}

#[test]
fn a_stale_goal_is_refused() {
    fault("stale", &["clock-ahead=5"], "goal_refused", None, 0.0);
}

#[test]
fn a_controller_stricter_on_jerk_refuses_the_goal() {
    fault("jerk", &["jerk-share=0.001"], "goal_refused", None, 0.0);
}

#[test]
fn a_stuck_joint_is_a_tracking_error() {
    fault(
        "stuck",
        &["stuck-joint=0"],
        "tracking_error",
        Some("path_tolerance"),
        0.01,
    );
}

#[test]
fn slow_execution_is_cancelled_as_a_tracking_error() {
    fault("slow", &["slow=3"], "tracking_error", None, 0.0);
}

#[test]
fn nan_malformed_and_wrong_joint_states_are_robot_errors() {
    for (name, f) in [
        ("nan", "nan-after=0.3"),
        ("malformed", "malformed-after=0.3"),
        ("wrongjoints", "wrong-joints-after=0.3"),
    ] {
        fault(name, &[f], "robot_error", Some("link_lost"), 0.01);
    }
}

#[test]
fn a_version_mismatch_is_refused_at_connect() {
    let (code, report, record) = exec_on("version", PICK, &["version=99"], &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["robot"]["link_failure"]["kind"], "robot_error");
    assert!(
        report["error"].as_str().unwrap().contains("99"),
        "{report:#}"
    );
    assert!(!has_event(&record, "goal"));
}

#[test]
fn state_jitter_within_the_watchdog_is_tolerated_and_beyond_it_is_link_lost() {
    let (code, report, _) = exec_on("jitter", PICK, &["jitter-ms=60"], &[]);
    assert_eq!(code, 0, "{report:#}");
    fault("stall", &["jitter-ms=900"], "link_lost", None, 0.0);
}

#[test]
fn a_grasp_that_fails_on_the_robot_is_no_grasp() {
    let (code, report, _) = exec_on("nograsp", PICK, &["grasp-fails"], &[]);
    assert_eq!(code, 1);
    assert_eq!(report["failure"]["kind"], "no_grasp", "{report:#}");
    assert_eq!(report["failure"]["line"], 3, "{report:#}");
}

#[test]
fn killing_cap_mid_trajectory_leaves_the_arm_holding() {
    let server = serve("kill", &[]);
    let out = tmp("kill-out");
    let mut cap = Command::new(env!("CARGO_BIN_EXE_cap"))
        .current_dir(root())
        .args([
            "exec",
            SCENE,
            PICK,
            "--task",
            "red_on_blue",
            "--robot",
            &server.url,
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = server.events.recv_timeout(Duration::from_secs(30)).unwrap();
        if line.ends_with("goal g1 accepted") {
            break;
        }
        assert!(Instant::now() < deadline);
    }
    std::thread::sleep(Duration::from_millis(300));
    cap.kill().unwrap();
    cap.wait().unwrap();
    let record = server.finish();
    let lost = event_s(&record, "link_lost").unwrap_or_else(|| panic!("{record}"));
    let last = record["last_motion_s"].as_f64().unwrap();
    assert!(
        last <= lost + 0.2,
        "moved {:.3} s after cap died",
        last - lost
    );
    assert!(
        !has_event(&record, "goal g1 done"),
        "the goal ran on: {record}"
    );
}

#[test]
fn cap_run_sends_only_the_repaired_program_to_the_robot() {
    let (url, llm) = common::llm_server(vec![common::WRONG.into(), common::RIGHT.into()]);
    let server = serve("run", &[]);
    let cache = tmp("run-cache");
    let out = tmp("run-out");
    let mut args = common::run_args(&url, cache.to_str().unwrap(), out.to_str().unwrap());
    args.extend(["--robot", &server.url]);
    let o = common::cap(&args);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    assert_eq!(llm.join().unwrap().len(), 2, "one repair");
    let record = server.finish();
    let connections = record["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e[1] == "connected")
        .count();
    assert_eq!(
        connections, 1,
        "only the final program reaches the robot: {record}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("robot/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["status"], "success", "{report:#}");
    assert_eq!(report["robot"]["sim_check"], "passed");
    assert!(report["robot"]["motions"].as_u64().unwrap() >= 6);
}
