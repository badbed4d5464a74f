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

// cap run and cap eval with a language model: a scripted server through real HTTP.

/// A scripted OpenAI-compatible server: answers `replies` in order, records requests.
pub fn llm_server(replies: Vec<String>) -> (String, std::thread::JoinHandle<Vec<Value>>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", server.server_addr().to_ip().unwrap());
    let h = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for content in replies {
            let Ok(Some(mut req)) = server.recv_timeout(std::time::Duration::from_secs(60)) else {
                break;
            };
            let mut text = String::new();
            req.as_reader().read_to_string(&mut text).unwrap();
            seen.push(serde_json::from_str::<Value>(&text).unwrap());
            let body = serde_json::json!({"choices": [{"message": {"content": content}}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 20}});
            req.respond(tiny_http::Response::from_string(body.to_string()))
                .unwrap();
        }
        seen
    });
    (url, h)
}

pub const WRONG: &str = "```rhai\nsubgoal(\"pick up the green block\");\npick(\"green_block\");\ncheckpoint(\"the green block is in the gripper\");\nsubgoal(\"put the green block on the blue plate\");\nplace_on(\"green_block\", \"blue_plate\");\ncheckpoint(\"the red block is on the blue plate\");\n```";

pub const RIGHT: &str = "Here it is:\n```rhai\nsubgoal(\"pick up the red block\");\npick(\"red_block\");\nsubgoal(\"put the red block on the blue plate\");\nplace_on(\"red_block\", \"blue_plate\");\ncheckpoint(\"the red block is on the blue plate\");\n```";

pub fn run_args<'a>(url: &'a str, cache: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "scenes/tabletop.toml",
        "put the red block on the blue plate",
        "--seeds",
        "2",
        "--max-attempts",
        "3",
        "--base-url",
        url,
        "--model",
        "scripted",
        "--cache",
        cache,
        "--inspector",
        "geometric",
        "--skills-dir",
        no_skills_dir(),
        "--no-learn",
        "--out",
        out,
    ]
}

/// A skill library directory of this test process that holds nothing (so the shipped
/// skills alone are the examples, and no test writes into the user's library).
pub fn no_skills_dir() -> &'static str {
    static DIR: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tmp("no-skills").display().to_string())
}

/// `cap eval tests/suites/llm.toml` (one thread) against a scripted server answering
/// RIGHT, with fresh output and cache directories named after `name`, and `extra`
/// arguments: the command's output, the requests the server saw, the output directory.
pub fn scripted_eval(name: &str, extra: &[&str]) -> (Output, Vec<Value>, PathBuf) {
    let (url, server) = llm_server(vec![RIGHT.into()]);
    let out = tmp(name);
    let cache = tmp(&format!("{name}-cache"));
    let mut args = vec![
        "eval",
        "tests/suites/llm.toml",
        "--out",
        out.to_str().unwrap(),
        "--threads",
        "1",
        "--base-url",
        &url,
        "--model",
        "scripted",
        "--cache",
        cache.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = cap(&args);
    let seen = server.join().unwrap();
    (o, seen, out)
}

pub fn rerun_cli() -> PathBuf {
    if let Some(p) = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("rerun"))
            .find(|f| f.is_file())
    }) {
        return p;
    }
    cap_viz_fetched().expect("the rerun CLI: run `bash scripts/fetch-rerun.sh` (setup.sh does) or `pip install rerun-sdk==0.36.3`")
}

pub fn cap_viz_fetched() -> Option<PathBuf> {
    let bin = cap_core::paths::data_dir().join("rerun/rerun");
    bin.is_file().then_some(bin)
}

pub fn rerun(args: &[&str]) -> (bool, String) {
    let o = Command::new(rerun_cli())
        .args(args)
        .output()
        .expect("rerun runs");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}
