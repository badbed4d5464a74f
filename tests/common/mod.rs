//! Helpers shared by the end-to-end test binaries: run the `cap` binary from the
//! repository root, fresh output directories, and `cap exec` with its report and trace.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn cap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cap"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("cap runs")
}

pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cap-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

pub fn exec(program: &str, task: Option<&str>, seed: u64, name: &str) -> (Output, Value, String) {
    let out = tmp(name);
    let seed = seed.to_string();
    let mut args = vec![
        "exec",
        "scenes/tabletop.toml",
        program,
        "--seed",
        &seed,
        "--out",
        out.to_str().unwrap(),
    ];
    if let Some(t) = task {
        args.extend(["--task", t]);
    }
    let o = cap(&args);
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json")).expect("report.json written"),
    )
    .unwrap();
    let trace = std::fs::read_to_string(out.join("trace.jsonl")).expect("trace.jsonl written");
    (o, report, trace)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
