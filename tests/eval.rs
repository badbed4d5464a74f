//! End-to-end tests of `cap eval`: results appended and resumed, shards merged, and an
//! eval with a language model.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::path::Path;

use serde_json::Value;

mod common;
use common::{cap, scripted_eval, stderr, tmp};

fn result_keys(dir: &Path) -> Vec<(String, u64)> {
    let mut k: Vec<(String, u64)> = std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["task"].as_str().unwrap().to_owned(),
                v["seed"].as_u64().unwrap(),
            )
        })
        .collect();
    k.sort();
    k
}

#[test]
fn eval_appends_resumes_shards_and_merges() {
    let suite = "tests/suites/small.toml";
    let full = tmp("eval-full");
    let o = cap(&["eval", suite, "--out", full.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let keys = result_keys(&full);
    assert_eq!(keys.len(), 8);
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(full.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["episodes"], 8);
    assert_eq!(s["successes"], 8);
    assert!(s["ci95"][0].as_f64().unwrap() > 0.6 && s["ci95"][1] == 1.0);
    assert!(std::fs::read_to_string(full.join("summary.md"))
        .unwrap()
        .contains("| tabletop | red_on_blue | 4 | 100% |"));

    // Interrupted after three episodes: --resume runs only the rest.
    let part = tmp("eval-part");
    std::fs::create_dir_all(&part).unwrap();
    let lines: Vec<String> = std::fs::read_to_string(full.join("results.jsonl"))
        .unwrap()
        .lines()
        .take(3)
        .map(str::to_owned)
        .collect();
    std::fs::write(part.join("results.jsonl"), lines.join("\n") + "\n").unwrap();
    let o = cap(&["eval", suite, "--out", part.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "refuses to overwrite without --resume"
    );
    let o = cap(&["eval", suite, "--out", part.to_str().unwrap(), "--resume"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(result_keys(&part), keys, "no episode lost or repeated");

    // Two shards are disjoint and together make the whole.
    let (a, b, m) = (tmp("eval-s0"), tmp("eval-s1"), tmp("eval-merged"));
    assert!(cap(&[
        "eval",
        suite,
        "--out",
        a.to_str().unwrap(),
        "--shard",
        "0/2"
    ])
    .status
    .success());
    assert!(cap(&[
        "eval",
        suite,
        "--out",
        b.to_str().unwrap(),
        "--shard",
        "1/2"
    ])
    .status
    .success());
    let (ka, kb) = (result_keys(&a), result_keys(&b));
    assert_eq!(ka.len() + kb.len(), 8);
    assert!(ka.iter().all(|k| !kb.contains(k)));
    assert!(cap(&[
        "eval",
        "merge",
        "--out",
        m.to_str().unwrap(),
        a.to_str().unwrap(),
        b.to_str().unwrap()
    ])
    .status
    .success());
    assert_eq!(result_keys(&m), keys);
    assert_eq!(
        cap(&[
            "eval",
            suite,
            "--out",
            tmp("eval-bad").to_str().unwrap(),
            "--shard",
            "2/2"
        ])
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn eval_with_a_language_model_records_attempts_and_tokens() {
    let (o, seen, out) = scripted_eval("eval-llm", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The second episode asks the same question: the cache answers it.
    assert_eq!(seen.len(), 1);
    let lines: Vec<Value> = std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert_eq!(l["success"], true);
        assert_eq!(l["attempts"], 1);
    }
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["tasks"][0]["mean_attempts_to_success"], 1.0);
    assert_eq!(s["tasks"][0]["tokens_in"], 200);
}

#[test]
fn every_held_out_task_is_solvable_by_its_program_on_every_seed() {
    // The held-out set measures the language model on tasks with no skill of their own;
    // its programs (not skills) show that each task can be done on seeds 0-9.
    let out = tmp("eval-heldout");
    let o = cap(&[
        "eval",
        "suites/heldout.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["episodes"], 100);
    assert_eq!(s["successes"], 100, "{s}");
    // None of them is a shipped skill.
    let o = cap(&["skills", "list"]);
    for task in s["tasks"].as_array().unwrap() {
        let name = task["task"].as_str().unwrap();
        assert!(!common::stdout(&o).contains(name), "{name} is a skill");
    }
}
