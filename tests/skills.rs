//! The skill library through the binary: `cap skills add` verifies before it adds,
//! `cap run` retrieves the most similar skills as its examples (and the scripted server
//! sees them), learns the program that succeeded, leaves a task's own skill out when
//! asked (and `cap eval` always), and `cap skills remove` deletes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;

/// The first user message of a recorded request.
fn user_message(req: &Value) -> String {
    req["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap()
        .to_owned()
}

fn skills(dir: &str, args: &[&str]) -> std::process::Output {
    let mut a = vec!["skills", "--skills-dir", dir];
    a.extend_from_slice(args);
    cap(&a)
}

/// `cap skills --skills-dir DIR add PROGRAM --scene scenes/tabletop.toml ARGS...`.
fn add(dir: &str, program: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut a = vec![
        "add",
        program.to_str().unwrap(),
        "--scene",
        "scenes/tabletop.toml",
    ];
    a.extend_from_slice(args);
    skills(dir, &a)
}

/// `cap run` on the tabletop through a scripted server with its own library directory.
fn run(
    name: &str,
    instruction: &str,
    dir: &str,
    extra: &[&str],
) -> (std::process::Output, Vec<Value>, Value) {
    let (url, server) = llm_server(vec![RIGHT.into()]);
    let out = tmp(name);
    let cache = tmp(&format!("{name}-cache"));
    let mut args = vec![
        "run",
        "scenes/tabletop.toml",
        instruction,
        "--max-attempts",
        "1",
        "--base-url",
        &url,
        "--model",
        "scripted",
        "--cache",
        cache.to_str().unwrap(),
        "--inspector",
        "geometric",
        "--skills-dir",
        dir,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = cap(&args);
    let seen = server.join().unwrap();
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json"))
            .unwrap_or_else(|e| panic!("{e}: {}", stderr(&o))),
    )
    .unwrap();
    (o, seen, report)
}

const GREEN_ON_PLATE: &str = "// Green onto the plate.\nsubgoal(\"put the green block on the blue plate\");\npick(\"green_block\");\nplace_on(\"green_block\", \"blue_plate\");\ncheckpoint(\"the green block is on the blue plate\");\nhome();\n";

#[test]
fn add_verifies_in_simulation_and_run_retrieves_what_was_added() {
    let dir = tmp("skills-add");
    let d = dir.to_str().unwrap();
    let prog = tmp("skills-add-prog");
    std::fs::create_dir_all(&prog).unwrap();
    let good = prog.join("green.rhai");
    std::fs::write(&good, GREEN_ON_PLATE).unwrap();

    // Judged by a task it does not carry out: refused, and nothing is written.
    let o = add(d, &good, &["--task", "red_on_blue", "--seeds", "2"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not added: 0 of 2 seeds"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.exists(), "a refused skill wrote something");

    // A checkpoint that is false (the block is never put there): refused too.
    let wrong = prog.join("wrong.rhai");
    std::fs::write(
        &wrong,
        GREEN_ON_PLATE.replace("blue_plate\");\ncheckpoint", "yellow_bowl\");\ncheckpoint"),
    )
    .unwrap();
    let o = add(
        d,
        &wrong,
        &[
            "--instruction",
            "put the green block on the blue plate",
            "--seeds",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    // Without a task: it must run through with no false checkpoint.
    let o = add(
        d,
        &good,
        &[
            "--instruction",
            "put the green block on the blue plate",
            "--seeds",
            "2",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("2 of 2 seeds succeeded"),
        "{}",
        stdout(&o)
    );
    let id = stdout(&o).split_whitespace().nth(1).unwrap().to_owned();
    assert!(
        id.starts_with("put_the_green_block_on_the_blue_plate-"),
        "{id}"
    );
    let o = add(
        d,
        &good,
        &["--instruction", "put the green block on the blue plate"],
    );
    assert!(
        stdout(&o).contains(&format!("already in the library as {id}")),
        "{}",
        stdout(&o)
    );

    let o = skills(d, &["list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line = stdout(&o)
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap()
        .to_owned();
    assert!(
        line.contains("added") && line.contains("100% of 2"),
        "{line}"
    );
    assert!(
        stdout(&o).contains("red_on_blue"),
        "shipped skills are listed too"
    );
    let o = skills(d, &["show", &id]);
    assert!(
        stdout(&o).contains("Green onto the plate."),
        "{}",
        stdout(&o)
    );
    let o = skills(
        d,
        &[
            "find",
            "put the green block onto the blue plate",
            "--scene",
            "scenes/tabletop.toml",
            "-k",
            "1",
        ],
    );
    assert!(stdout(&o).contains(&id), "{}", stdout(&o));

    // The first request shows it (the most similar), and the report says so.
    let (o, seen, r) = run(
        "skills-add-run",
        "put the green block onto the blue plate",
        d,
        &["--no-learn"],
    );
    assert!(o.status.code().is_some(), "{}", stderr(&o));
    assert!(
        user_message(&seen[0]).contains("// Green onto the plate."),
        "{}",
        user_message(&seen[0])
    );
    assert_eq!(r["skills"][0]["id"], id.as_str());

    // Removed: gone from the directory, the list and the next prompt.
    let o = skills(d, &["remove", &id]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stdout(&skills(d, &["list"])).contains(&id));
    let o = skills(d, &["remove", "red_on_blue"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("shipped skill"), "{}", stderr(&o));
}

#[test]
fn run_learns_its_verified_program_and_leave_one_out_hides_the_tasks_own() {
    let dir = tmp("skills-learn");
    let d = dir.to_str().unwrap();
    let own = "// Put the red block on the blue plate.";
    assert!(
        std::fs::read_to_string(root().join("examples/policies/red_on_blue.rhai"))
            .unwrap()
            .starts_with(own)
    );

    // By default the task's own reference policy is the best example, and a program
    // for an instruction the library already does as well is not added again.
    let (o, seen, r) = run(
        "skills-learn-0",
        "put the red block on the blue plate",
        d,
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        user_message(&seen[0]).contains(own),
        "{}",
        user_message(&seen[0])
    );
    assert_eq!(r["skills"][0]["id"], "red_on_blue");
    assert!(
        stderr(&o)
            .contains("not added to the skill library: red_on_blue already does this instruction"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.exists(), "{}", stderr(&o));

    // A new instruction: the program that succeeded is now a skill of origin `run`.
    let (o, _, _) = run(
        "skills-learn-1",
        "move the red block over to the blue plate",
        d,
        &["--task", "red_on_blue"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("added to the skill library as move_the_red_block_over_to_the_blue_plate-"),
        "{}",
        stderr(&o)
    );
    let o = skills(d, &["list"]);
    let learned = stdout(&o)
        .lines()
        .find(|l| l.contains(" run "))
        .unwrap_or_else(|| panic!("{}", stdout(&o)))
        .to_owned();
    assert!(
        learned.contains("move the red block over to the blue plate"),
        "{learned}"
    );

    // Leave-one-out: neither the reference policy nor the learned program is shown,
    // other skills are.
    let (o, seen, r) = run(
        "skills-learn-2",
        "put the red block on the blue plate",
        d,
        &["--leave-one-out", "--task", "red_on_blue", "--no-learn"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let second = user_message(&seen[0]);
    assert!(!second.contains(own), "{second}");
    assert!(
        !second.contains("pick(\"red_block\");\nsubgoal(\"put the red block on the blue plate\")"),
        "{second}"
    );
    assert!(second.contains("Instruction: "), "{second}");
    let shown: Vec<&str> = r["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        !shown.is_empty()
            && !shown.contains(&"red_on_blue")
            && !shown.iter().any(|s| s.starts_with("move_the_red_block")),
        "{shown:?}"
    );

    // --no-skills: the embedded examples instead.
    let (_, seen, r) = run(
        "skills-learn-3",
        "put the red block on the blue plate",
        d,
        &["--no-skills", "--no-learn"],
    );
    assert!(user_message(&seen[0]).contains("let block = find(\"green block\");"));
    assert!(r["skills"].as_array().unwrap().is_empty());
}

#[test]
fn eval_scores_each_task_without_its_own_skill() {
    let lib = tmp("skills-eval-lib");
    let (o, seen, _) = scripted_eval("skills-eval", &["--skills-dir", lib.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first = user_message(&seen[0]);
    assert!(
        !first.contains("// Put the red block on the blue plate."),
        "{first}"
    );
    assert!(first.contains("Instruction: "), "{first}");
}
