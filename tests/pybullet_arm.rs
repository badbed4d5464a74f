//! The bridge against an independent engine: the Python SDK driving a Franka Panda in
//! PyBullet (bridge/python/examples/pybullet_panda.py), the reference "real arm".
//! Needs the Python bridge packages in cap's data directory
//! (scripts/fetch-python-bridge.sh; setup.sh runs it). Every wait has a deadline; the
//! arm binds an ephemeral port on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{cap, root, stderr, stdout, tmp};
use serde_json::Value;

const SCENE: &str = "scenes/tabletop.toml";

/// The Python of scripts/fetch-python-bridge.sh (CPython 3.11 with websockets, numpy
/// and pybullet).
fn bridge_python() -> PathBuf {
    let data = std::env::var_os("CAP_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_DATA_HOME").map(|d| PathBuf::from(d).join("cap")))
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".local/share/cap")
        });
    let py = data.join("python-bridge/python");
    assert!(
        py.exists(),
        "{} is missing: run `bash scripts/fetch-python-bridge.sh` (setup.sh does)",
        py.display()
    );
    py
}

/// A PyBullet arm serving one connection.
struct Arm {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Arm {
    fn start(name: &str, seed: u64) -> Arm {
        let dir = tmp(name);
        std::fs::create_dir_all(&dir).unwrap();
        let world = dir.join("world.json");
        let seed = seed.to_string();
        let o = cap(&[
            "world",
            SCENE,
            "--seed",
            &seed,
            "--out",
            world.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let mut child = Command::new(bridge_python())
            .current_dir(root())
            .arg("bridge/python/examples/pybullet_panda.py")
            .arg(&world)
            .args(["--once", "--final-poses"])
            .arg(dir.join("final.json"))
            .arg("--record")
            .arg(dir.join("record.jsonl"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            // Read to the end even after the address (a closed pipe would kill the
            // arm's next print).
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                tx.send(line).ok();
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the PyBullet arm prints its address within 30 s");
            if let Some(u) = line.strip_prefix("serving on ") {
                break u.trim().to_owned();
            }
        };
        Arm { child, url, dir }
    }

    /// Wait (bounded) for the arm to exit after its connection ended.
    fn finish(mut self) -> PathBuf {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the PyBullet arm did not exit within 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.dir.clone()
    }
}

impl Drop for Arm {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap()
}

fn record(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("record.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_sdk_keeps_its_promises() {
    let o = Command::new(bridge_python())
        .current_dir(root())
        .args([
            "-m",
            "unittest",
            "discover",
            "-s",
            "bridge/python/tests",
            "-v",
        ])
        .output()
        .unwrap();
    let log = stderr(&o);
    assert!(o.status.success(), "{log}");
    assert!(log.contains("Ran 7 tests"), "{log}");
    assert_eq!(log.matches(" ... ok").count(), 7, "{log}");
    assert!(log.contains("test_silent_client_stops_the_arm_within_the_watchdog_and_latches ("));
}

#[test]
fn a_reference_policy_runs_on_the_pybullet_arm_and_pybullet_judges_it() {
    let arm = Arm::start("pb-red", 1);
    let url = arm.url.clone();
    let out = tmp("pb-red-out");
    let o = cap(&[
        "exec",
        SCENE,
        "examples/policies/red_on_blue.rhai",
        "--task",
        "red_on_blue",
        "--seed",
        "1",
        "--robot",
        &url,
        "--out",
        out.to_str().unwrap(),
    ]);
    let dir = arm.finish();
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let report = read_json(&out.join("report.json"));
    let robot = &report["robot"];
    assert!(
        robot["robot"].as_str().unwrap().contains("pybullet"),
        "{robot}"
    );
    assert_eq!(robot["sim_check"], "passed");
    assert_eq!(robot["motions"], 7, "{robot}");
    // PyBullet's own dynamics: it tracks, but not perfectly.
    let err = robot["max_tracking_error_rad"].as_f64().unwrap();
    assert!(err > 0.0 && err < 0.05, "tracking error {err}");
    // The arm's own record: the gripper closed on the block (not on nothing).
    let rec = record(&dir);
    assert!(rec.iter().any(|r| r["grasped"] == true), "never grasped");
    // Judged on PyBullet's poses: the block ended on the plate there...
    let poses = dir.join("final.json");
    let final_poses = read_json(&poses);
    let z = final_poses["objects"]["red_block"]["position"][2]
        .as_f64()
        .unwrap();
    assert!(
        z > 0.025,
        "the red block is up on the plate in PyBullet (z {z})"
    );
    let p = poses.to_str().unwrap();
    let judged = cap(&[
        "judge",
        SCENE,
        "--task",
        "red_on_blue",
        "--seed",
        "1",
        "--poses",
        p,
    ]);
    assert_eq!(judged.status.code(), Some(0), "{}", stdout(&judged));
    assert!(stdout(&judged).contains("red_on_blue: success"));
    // ... and the same poses do not pass a task that was not done.
    let other = cap(&[
        "judge",
        SCENE,
        "--task",
        "green_in_yellow_bowl",
        "--seed",
        "1",
        "--poses",
        p,
    ]);
    assert_eq!(other.status.code(), Some(1), "{}", stdout(&other));
}

#[test]
fn killing_cap_mid_trajectory_leaves_the_pybullet_arm_holding_within_200_ms() {
    let arm = Arm::start("pb-kill", 0);
    let url = arm.url.clone();
    let out = tmp("pb-kill-out");
    let err_path = tmp("pb-kill-stderr.txt");
    let mut capp = Command::new(env!("CARGO_BIN_EXE_cap"))
        .current_dir(root())
        .args([
            "exec",
            SCENE,
            "examples/policies/red_on_blue.rhai",
            "--task",
            "red_on_blue",
            "--robot",
            &url,
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let cap_said = || std::fs::read_to_string(&err_path).unwrap_or_default();
    // Kill cap 0.5 s into the first motion (it takes 1.6 s), read off the arm's record.
    let rec_path = arm.dir.join("record.jsonl");
    let deadline = Instant::now() + Duration::from_secs(60);
    // The first goal's id (ids count gripper commands too).
    let first_goal = loop {
        let text = std::fs::read_to_string(&rec_path).unwrap_or_default();
        let accepted = text.lines().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            let e = v["event"].as_str()?;
            Some(
                e.strip_prefix("goal ")?
                    .strip_suffix(" accepted")?
                    .to_owned(),
            )
        });
        if let Some(id) = accepted {
            break id;
        }
        assert!(
            Instant::now() < deadline && capp.try_wait().unwrap().is_none(),
            "no first goal within 60 s; cap said: {}\narm record: {text}",
            cap_said()
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    std::thread::sleep(Duration::from_millis(500));
    let killed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    capp.kill().unwrap();
    capp.wait().unwrap();
    let dir = arm.finish();
    let rec = record(&dir);
    let events: Vec<&str> = rec.iter().filter_map(|r| r["event"].as_str()).collect();
    assert!(events.contains(&"link_lost"), "{events:?}");
    assert!(
        !events.contains(&format!("goal {first_goal} done").as_str()),
        "the goal ran on: {events:?}"
    );
    let speed = |r: &Value| {
        r["qd"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap().abs())
            .fold(0.0, f64::max)
    };
    let samples: Vec<&Value> = rec.iter().filter(|r| r.get("qd").is_some()).collect();
    let t = |r: &Value| r["t"].as_f64().unwrap();
    let before = samples
        .iter()
        .filter(|r| t(r) < killed && t(r) > killed - 0.2)
        .map(|r| speed(r))
        .fold(0.0, f64::max);
    assert!(
        before > 0.05,
        "the arm was moving when cap died ({before:.3} rad/s)"
    );
    let after: Vec<&&Value> = samples.iter().filter(|r| t(r) > killed + 0.2).collect();
    assert!(
        after.len() > 10,
        "the arm recorded {} samples after",
        after.len()
    );
    let worst = after.iter().map(|r| speed(r)).fold(0.0, f64::max);
    assert!(
        worst < 0.02,
        "200 ms after cap died a joint still moved at {worst:.4} rad/s"
    );
    // And the record says when it halted: within 200 ms of the kill.
    let halted = rec
        .iter()
        .find(|r| r["event"] == "link_lost")
        .map(t)
        .unwrap();
    assert!(
        halted - killed < 0.2,
        "stopped {:.3} s after the kill",
        halted - killed
    );
}
