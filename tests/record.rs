//! End-to-end tests of rerun recordings: `--save` read back with the rerun CLI, an
//! eval's recording per task, `--connect` and `--spawn` to a real rerun process, and
//! recording off by default with a clear error for a bad sink.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::path::Path;
use std::process::Command;

mod common;
use common::{cap, rerun, rerun_cli, root, stderr, stdout, tmp};

/// `rerun rrd verify` accepts `rrd`; what `rerun rrd print -vvv` prints of it.
fn verified_print(rrd: &Path) -> String {
    let (ok, text) = rerun(&["rrd", "verify", rrd.to_str().unwrap()]);
    assert!(ok, "rerun rrd verify {}: {text}", rrd.display());
    let (ok, text) = rerun(&["rrd", "print", "-vvv", rrd.to_str().unwrap()]);
    assert!(ok, "rerun rrd print {}: {text}", rrd.display());
    text
}

#[test]
fn exec_records_a_run_that_the_rerun_cli_reads_back() {
    let out = tmp("rrd-exec");
    let rrd = out.join("run.rrd");
    let o = cap(&[
        "exec",
        "scenes/tabletop.toml",
        "examples/policies/red_on_blue.rhai",
        "--task",
        "red_on_blue",
        "--seed",
        "3",
        "--inspector",
        "geometric",
        "--out",
        out.to_str().unwrap(),
        "--save",
        rrd.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(rrd.is_file());
    let text = verified_print(&rrd);
    for entity in [
        "/world/table",
        "/world/objects/red_block",
        "/world/objects/blue_plate",
        "/world/robot/link3",
        "/world/robot/hand",
        "/world/poses",
        "/world/robot/tcp_path",
        "/world/robot/planned_path",
        "/world/robot/gripper_opening",
        "/camera/front/rgb",
        "/camera/front/depth",
        "/camera/front/segmentation",
        "/camera/front/verdicts",
        "/trace",
        "/program",
        "/report",
    ] {
        assert!(
            text.contains(entity),
            "{entity} missing from the recording:\n{}",
            &text[..text.len().min(4000)]
        );
    }
    for timeline in ["sim_time", "step", "attempt"] {
        assert!(text.contains(timeline), "timeline {timeline} missing");
    }
    // Each moving body's pose is a row of /world/poses naming its frame (a value,
    // printed in brackets), and its mesh is static in that frame.
    for needle in [
        "Transform3D:child_frame",
        "CoordinateFrame:frame",
        "[world/robot/link3]",
        "[world/objects/red_block]",
    ] {
        assert!(text.contains(needle), "{needle} missing from the recording");
    }
    // The program text and a checkpoint verdict are in it.
    assert!(text.contains("place_on"), "program text missing");
    assert!(
        text.contains("the red block is on the blue plate"),
        "checkpoint missing"
    );
}

#[test]
fn eval_records_each_task_into_one_recording() {
    let out = tmp("rrd-eval");
    let o = cap(&[
        "eval",
        "tests/suites/small.toml",
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "2",
        "--record",
        "red_on_blue",
        "--record",
        "green_in_yellow_bowl:2",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let dir = out.join("recordings/tabletop");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["green_in_yellow_bowl.rrd", "red_on_blue.rrd"]);
    // Every seed of red_on_blue, one after the other, ran on two workers at once.
    let rrd = dir.join("red_on_blue.rrd");
    let text = verified_print(&rrd);
    for needle in [
        "/world/objects/red_block",
        "/world/poses",
        "/trace",
        "red_on_blue seed 0",
        "red_on_blue seed 1",
        "red_on_blue seed 2",
        "red_on_blue seed 3",
        "place_on",
        // The report lists the task's recorded episodes (printed up to its third line).
        "| seed | success |",
        "| 0 | yes |",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from {}",
            rrd.display()
        );
    }
    // Only the episode asked for of the other task.
    let rrd = dir.join("green_in_yellow_bowl.rrd");
    let text = verified_print(&rrd);
    assert!(text.contains("green_in_yellow_bowl seed 2"));
    for seed in [0, 1, 3] {
        assert!(!text.contains(&format!("green_in_yellow_bowl seed {seed}")));
    }
    // Naming no task of the suite is bad input, before anything runs.
    for bad in ["no_such_task", "red_on_blue:4", "red_on_blue:x"] {
        let o = cap(&[
            "eval",
            "tests/suites/small.toml",
            "--out",
            tmp("rrd-eval-bad").to_str().unwrap(),
            "--record",
            bad,
        ]);
        assert_eq!(o.status.code(), Some(2), "--record {bad}: {}", stderr(&o));
        assert!(stderr(&o).contains(bad), "{}", stderr(&o));
    }
}

/// Poll `rrd` with `rerun rrd print` until the run's report is in it (the receiving
/// process writes what it got asynchronously); the printed text.
fn wait_for_recording(rrd: &Path) -> String {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if rrd.is_file() {
            let (_, text) = rerun(&["rrd", "print", rrd.to_str().unwrap()]);
            if text.contains("/report") {
                return text;
            }
        }
        assert!(
            std::time::Instant::now() < until,
            "{} never received the whole run",
            rrd.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn exec_streaming(sink: &[&str], out: &Path, path_prefix: Option<&Path>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cap"));
    cmd.current_dir(root())
        .args([
            "exec",
            "scenes/tabletop.toml",
            "examples/policies/red_on_blue.rhai",
            "--task",
            "red_on_blue",
            "--inspector",
            "geometric",
            "--out",
            out.to_str().unwrap(),
        ])
        .args(sink)
        // A spawned viewer inherits cap's stdout; do not wait for it to close.
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(dir) = path_prefix {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![dir.to_path_buf()];
        dirs.extend(std::env::split_paths(&path));
        cmd.env("PATH", std::env::join_paths(dirs).unwrap());
    }
    assert_eq!(cmd.status().unwrap().code(), Some(0), "cap exec {sink:?}");
}

#[test]
fn connect_and_spawn_stream_to_a_real_rerun_process() {
    // --connect: a headless rerun gRPC server that saves what it receives.
    let out = tmp("rrd-connect");
    std::fs::create_dir_all(&out).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let received = out.join("received.rrd");
    let mut server = Command::new(rerun_cli())
        .args(["--port", &port.to_string(), "--save"])
        .arg(&received)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < until, "rerun never listened");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let url = format!("rerun+http://127.0.0.1:{port}/proxy");
    exec_streaming(&["--connect", &url], &out, None);
    let text = wait_for_recording(&received);
    let _ = server.kill();
    let _ = server.wait();
    for entity in [
        "/world/objects/red_block",
        "/world/robot/link3",
        "/trace",
        "/program",
    ] {
        assert!(
            text.contains(entity),
            "{entity} not received over --connect"
        );
    }

    // --spawn: cap starts the `rerun` first on PATH; a wrapper there starts the real
    // one saving what it receives instead of opening a window, on a free port of its
    // own (a viewer of the user's on rerun's default port is left alone).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = tmp("rrd-spawn");
    let bin = out.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let spawned = out.join("spawned.rrd");
    let pid = out.join("rerun.pid");
    let wrapper = bin.join("rerun");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho $$ > '{}'\nexec '{}' \"$@\" --save '{}'\n",
            pid.display(),
            rerun_cli().display(),
            spawned.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    exec_streaming(&[&format!("--spawn={port}")], &out, Some(&bin));
    let text = wait_for_recording(&spawned);
    if let Ok(pid) = std::fs::read_to_string(&pid) {
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
    for entity in ["/world/objects/red_block", "/world/robot/hand", "/trace"] {
        assert!(text.contains(entity), "{entity} not received over --spawn");
    }
}

#[test]
fn recording_is_off_by_default_and_a_bad_sink_is_a_clear_error() {
    let out = tmp("rrd-none");
    // The reference policy into `out`, with `extra` arguments.
    let exec = |extra: &[&str]| {
        let mut args = vec![
            "exec",
            "scenes/tabletop.toml",
            "examples/policies/red_on_blue.rhai",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        cap(&args)
    };
    let o = exec(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::fs::read_dir(&out).unwrap().all(|e| !e
        .unwrap()
        .path()
        .to_string_lossy()
        .ends_with(".rrd")));
    // A file that cannot be created: exit 2, and the report still written.
    let o = exec(&["--save", "/proc/no/such/dir/run.rrd"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("rerun"), "{}", stderr(&o));
    assert!(out.join("report.json").is_file());
    // A recording that cannot be written to the end (here: no space left) fails the
    // command with the file named, after the run's own outcome and outputs.
    if Path::new("/dev/full").exists() {
        let _ = std::fs::remove_file(out.join("report.json"));
        let o = exec(&["--task", "red_on_blue", "--save", "/dev/full"]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(
            stdout(&o).contains("red_on_blue (seed 0): success"),
            "{}",
            stdout(&o)
        );
        assert!(
            stderr(&o).contains("/dev/full: ") && stderr(&o).contains("No space left"),
            "{}",
            stderr(&o)
        );
        assert!(!stdout(&o).contains("recording:"), "{}", stdout(&o));
        assert!(out.join("report.json").is_file());
    }
}
