//! End-to-end tests of `cap run`: the repair loop against a scripted OpenAI-compatible
//! server (repairs, budgets, a dead endpoint, helpers, best-of-N, offline replay) and
//! with the embedded model (grammar, replay, missing or corrupt model files).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::process::Command;

use serde_json::Value;

mod common;
use common::{cap, llm_server, no_skills_dir, rerun, root, run_args, stderr, tmp, RIGHT, WRONG};

/// `cap run` against a scripted server answering `replies` in turn, with fresh output
/// and cache directories named after `name`: the command's output, the requests the
/// server saw, report.json, and the output directory.
fn scripted_run(
    name: &str,
    replies: Vec<String>,
) -> (std::process::Output, Vec<Value>, Value, std::path::PathBuf) {
    let (url, server) = llm_server(replies);
    let out = tmp(name);
    let cache = tmp(&format!("{name}-cache"));
    let o = cap(&run_args(
        &url,
        cache.to_str().unwrap(),
        out.to_str().unwrap(),
    ));
    let seen = server.join().unwrap();
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("report.json"))
            .unwrap_or_else(|e| panic!("{e}: {}", stderr(&o))),
    )
    .unwrap();
    (o, seen, report, out)
}

#[test]
fn run_repairs_a_faulty_program_through_http_and_replays_offline() {
    let (url, server) = llm_server(vec![WRONG.into(), RIGHT.into()]);
    let out = tmp("run");
    let cache = tmp("run-cache");
    let o = cap(&run_args(
        &url,
        cache.to_str().unwrap(),
        out.to_str().unwrap(),
    ));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 2);
    // The repair request carries the failing program, the attribution and what was seen.
    let repair = seen[1]["messages"][1]["content"].as_str().unwrap();
    assert!(repair.contains("pick(\"green_block\")"), "{repair}");
    assert!(repair.contains("class: wrong_target"), "{repair}");
    assert!(repair.contains("line: 2"), "{repair}");
    assert!(
        repair.contains("subgoal: pick up the green block"),
        "{repair}"
    );
    assert!(
        repair.contains("judged \"the red block is on the blue plate\" false"),
        "{repair}"
    );
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["success"], true);
    assert_eq!(r["task"], "red_on_blue");
    let attempts = r["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    let first = &attempts[0]["candidates"][0];
    assert_eq!(first["success_rate"], 0.0);
    assert_eq!(first["failure_report"]["main"]["class"], "wrong_target");
    assert_eq!(first["failure_report"]["frequency"], 1.0);
    assert_eq!(attempts[1]["candidates"][0]["success_rate"], 1.0);
    assert_eq!(attempts[0]["tokens_in"], 100);
    let final_program = std::fs::read_to_string(out.join("final.rhai")).unwrap();
    assert!(final_program.starts_with("subgoal(\"pick up the red block\");"));
    // Every seed of every attempt keeps its own checkpoint frames.
    let frame = |a: u32, seed: u32| {
        let p = out.join(format!(
            "checkpoints/attempt{a}-sample0-seed{seed}/000_front_rgb.png"
        ));
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    assert_ne!(
        frame(1, 0),
        frame(2, 0),
        "attempt 2 overwrote attempt 1's frame"
    );
    assert_ne!(frame(1, 0), frame(1, 1));

    // Replay: no server at all (its URL names the cached replies), the same attempts
    // from the cache.
    let out2 = tmp("run-replay");
    let mut args = run_args(&url, cache.to_str().unwrap(), out2.to_str().unwrap());
    args.push("--replay-only");
    // Recorded for rerun: one recording, both attempts on the attempt timeline.
    let rrd = out2.join("run.rrd");
    let rrd_s = rrd.to_str().unwrap().to_owned();
    args.extend(["--save", rrd_s.as_str()]);
    let o = cap(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (ok, text) = rerun(&["rrd", "print", "-vvv", &rrd_s]);
    assert!(ok, "{text}");
    for needle in [
        "attempt 1, sample 0, seed 0",
        "attempt 2, sample 0, seed 0",
        "/world/objects/green_block",
        "/report",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from the recording of cap run"
        );
    }
    let r2: Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        r2["attempts"][0]["candidates"],
        r["attempts"][0]["candidates"]
    );
    assert_eq!(
        r2["attempts"][1]["candidates"],
        r["attempts"][1]["candidates"]
    );
    assert_eq!(r2["attempts"][0]["cached_replies"], 1);
}

#[test]
fn run_stops_at_the_budget_on_garbage_and_reports_a_dead_endpoint() {
    let (url, server) = llm_server(vec!["I'm sorry, I can't do that.".into(); 5]);
    let out = tmp("run-garbage");
    let cache = tmp("run-garbage-cache");
    let o = cap(&run_args(
        &url,
        cache.to_str().unwrap(),
        out.to_str().unwrap(),
    ));
    assert_eq!(o.status.code(), Some(1));
    // Each repair hands back the same prose, a program already tried: it is not run,
    // and the model is asked once more, saying so (1 + 2 + 2 requests for 3 attempts).
    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 5);
    assert!(seen[2]["messages"][1]["content"]
        .as_str()
        .unwrap()
        .contains("same program as one already tried"));
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["success"], false);
    assert_eq!(r["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(r["attempts"][1]["repeats"], 2);
    assert_eq!(r["attempts"][2]["repeats"], 2);
    for a in r["attempts"].as_array().unwrap() {
        assert!(!a["candidates"][0]["static_errors"]
            .as_array()
            .unwrap()
            .is_empty());
    }
    assert!(r["stopped"].as_str().unwrap().contains("within 3 attempts"));
    // Prose is not a program: no final.rhai, and the report says why.
    assert!(!out.join("final.rhai").exists());
    assert!(r["stopped"]
        .as_str()
        .unwrap()
        .contains("no reply held a program that parses"));

    // Nothing listens: the report is still written and says why.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}/v1");
    let out = tmp("run-dead");
    let cache = tmp("run-dead-cache");
    let o = cap(&run_args(
        &dead,
        cache.to_str().unwrap(),
        out.to_str().unwrap(),
    ));
    assert_eq!(o.status.code(), Some(1));
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert!(
        r["stopped"].as_str().unwrap().contains("cannot reach"),
        "{}",
        r["stopped"]
    );
    assert!(r["attempts"][0]["llm_error"]
        .as_str()
        .unwrap()
        .contains(&port.to_string()));
}

#[test]
fn run_generates_undefined_helpers_from_their_call_site() {
    let main = "```rhai\nsubgoal(\"put the red block on the blue plate\");\nmove_block_onto_target(\"red_block\", \"blue_plate\");\ncheckpoint(\"the red block is on the blue plate\");\n```";
    let helper = "```rhai\nfn move_block_onto_target(block, target) {\n    pick(block);\n    place_on(block, target);\n}\n```";
    let (o, seen, r, _) = scripted_run("run-helper", vec![main.into(), helper.into()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(seen.len(), 2);
    let ask = seen[1]["messages"][1]["content"].as_str().unwrap();
    assert!(
        ask.contains("move_block_onto_target(\"red_block\", \"blue_plate\");"),
        "{ask}"
    );
    let c = &r["attempts"][0]["candidates"][0];
    assert_eq!(c["helpers"][0], "move_block_onto_target");
    assert!(c["program"]
        .as_str()
        .unwrap()
        .starts_with("fn move_block_onto_target(block, target)"));
    assert_eq!(c["success_rate"], 1.0);
}

#[test]
fn run_best_of_n_keeps_the_better_sample() {
    let (url, server) = llm_server(vec![WRONG.into(), RIGHT.into()]);
    let out = tmp("run-best");
    let cache = tmp("run-best-cache");
    let mut args = run_args(&url, cache.to_str().unwrap(), out.to_str().unwrap());
    args.extend(["--samples", "2"]);
    let o = cap(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let seen = server.join().unwrap();
    assert_eq!(
        (seen[0]["seed"].as_u64(), seen[1]["seed"].as_u64()),
        (Some(0), Some(1))
    );
    assert!(
        seen[0]["temperature"].as_f64().unwrap() > 0.0,
        "sampling for best-of-N"
    );
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(r["attempts"][0]["candidates"].as_array().unwrap().len(), 2);
    assert_eq!(r["attempts"][0]["best"], 1);
    assert_eq!(r["attempts"][0]["candidates"][1]["success_rate"], 1.0);
}

#[test]
fn run_with_the_embedded_model_writes_a_program_under_the_grammar_and_replays_it() {
    let out = tmp("local-run");
    let cache = tmp("local-cache");
    let args = [
        "run",
        "scenes/tabletop.toml",
        "put the red block on the blue plate",
        "--llm-model",
        "smollm2-135m",
        "--max-attempts",
        "1",
        "--skills-dir",
        no_skills_dir(),
        "--no-learn",
        "--cache",
        cache.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let o = cap(&args);
    // The 135M model is too weak to succeed; what matters is that it ran, was
    // constrained, and everything was written.
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("model: smollm2-135m (embedded, llama.cpp)"),
        "{}",
        stderr(&o)
    );
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let at = &r["attempts"][0];
    assert!(at["tokens_out"].as_u64().unwrap() > 0, "{r}");
    assert!(at["tokens_in"].as_u64().unwrap() > 500, "{r}");
    let cand = &at["candidates"][0];
    let program = cand["program"].as_str().unwrap();
    assert!(!program.trim().is_empty(), "{r}");
    assert_eq!(
        std::fs::read_to_string(out.join("attempts/01-0.rhai")).unwrap(),
        program
    );
    // The grammar admits only API functions with their arity and the scene's objects:
    // whatever else is wrong, the checker finds no unknown function or object.
    for e in cand["static_errors"].as_array().unwrap() {
        let e = e.as_str().unwrap();
        assert!(
            !e.contains("unknown function")
                && !e.contains("no object named")
                && !e.contains("argument(s), got"),
            "the grammar let through: {e}\n{program}"
        );
    }

    // Same request again: answered from the cache, same program.
    let out2 = tmp("local-run2");
    let mut args2 = args.to_vec();
    let o2s = out2.to_str().unwrap().to_owned();
    *args2.last_mut().unwrap() = &o2s;
    let o2 = cap(&args2);
    assert!(matches!(o2.status.code(), Some(0 | 1)), "{}", stderr(&o2));
    let r2: Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("report.json")).unwrap()).unwrap();
    assert_eq!(r2["attempts"][0]["cached_replies"], 1, "{r2}");
    assert_eq!(
        r2["attempts"][0]["candidates"][0]["program"],
        cand["program"]
    );
}

#[test]
fn a_missing_or_corrupt_model_is_a_clear_bad_input_error() {
    // Default model in an empty data directory: says how to fetch it.
    let empty = tmp("no-data");
    std::fs::create_dir_all(&empty).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_cap"))
        .current_dir(root())
        .env("CAP_DATA_DIR", &empty)
        .args([
            "run",
            "scenes/tabletop.toml",
            "--task",
            "red_on_blue",
            "--out",
        ])
        .arg(empty.join("out"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("fetch-llm.sh"), "{}", stderr(&o));

    // A file that is not a GGUF, and a GGUF llama.cpp cannot read.
    let bad = tmp("bad-model");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("notes.gguf"), "hello").unwrap();
    let mut junk = b"GGUF".to_vec();
    junk.extend_from_slice(&[0xff; 64]);
    std::fs::write(bad.join("junk.gguf"), junk).unwrap();
    for (file, says) in [
        ("notes.gguf", "not a GGUF"),
        ("junk.gguf", "llama.cpp cannot load it"),
    ] {
        let path = bad.join(file);
        let o = cap(&[
            "run",
            "scenes/tabletop.toml",
            "--task",
            "red_on_blue",
            "--llm-model",
            path.to_str().unwrap(),
            "--out",
            bad.join("out").to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{file}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{file}: {}", stderr(&o));
        assert!(stderr(&o).contains(file), "{file}: {}", stderr(&o));
    }
}

#[test]
fn the_cache_key_names_the_endpoint_and_no_cache_bypasses_it() {
    let cache = tmp("ns-cache");
    let cache_s = cache.to_str().unwrap().to_owned();
    // Endpoint A answers with the right program; it is cached under A's URL.
    let (a, server_a) = llm_server(vec![RIGHT.into()]);
    let o = cap(&run_args(&a, &cache_s, tmp("ns-a").to_str().unwrap()));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(server_a.join().unwrap().len(), 1);
    // Endpoint B serves a model of the same name: it is asked, not answered from A's
    // cache (its wrong program fails, and so does the run).
    let wrong = |n: u32| WRONG.replacen("```rhai\n", &format!("```rhai\n// try {n}\n"), 1);
    let (b, server_b) = llm_server(vec![wrong(1), wrong(2), wrong(3)]);
    let out_b = tmp("ns-b");
    let o = cap(&run_args(&b, &cache_s, out_b.to_str().unwrap()));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        server_b.join().unwrap().len(),
        3,
        "B was asked, every attempt"
    );
    // A namespace shared on purpose replays A's answers for B, without asking it.
    let (b2, server_b2) = llm_server(vec![]);
    let out_b2 = tmp("ns-b2");
    let mut args = run_args(&b2, &cache_s, out_b2.to_str().unwrap());
    args.extend(["--cache-namespace", &a]);
    let o = cap(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        server_b2.join().unwrap().is_empty(),
        "answered from the cache"
    );
    // --no-cache asks A again although its answer is cached.
    let (a2, server_a2) = llm_server(vec![RIGHT.into()]);
    let out_a2 = tmp("ns-a2");
    let mut args = run_args(&a2, &cache_s, out_a2.to_str().unwrap());
    args.extend(["--no-cache", "--cache-namespace", &a]);
    let o = cap(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        server_a2.join().unwrap().len(),
        1,
        "asked despite the cache"
    );
    // Replaying with a model name and nothing to say where it came from is refused.
    let o = cap(&[
        "run",
        "scenes/tabletop.toml",
        "--task",
        "red_on_blue",
        "--model",
        "m",
        "--replay-only",
        "--cache",
        &cache_s,
        "--out",
        tmp("ns-none").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--cache-namespace"), "{}", stderr(&o));
}

#[test]
fn run_applies_an_unambiguous_fix_it_and_runs_the_program_it_shows() {
    // `block.colour` reads a property of an object's name: cap rewrites it to
    // `color(block)` itself, records the fix-it, and runs (and shows) the fixed program.
    let reply = "```rhai\nlet block = find(\"red block\");\nsay(block.colour);\nsubgoal(\"put the red block on the blue plate\");\npick(block);\nplace_on(block, \"blue_plate\");\ncheckpoint(\"the red block is on the blue plate\");\n```";
    let (o, seen, r, out) = scripted_run("run-fixit", vec![reply.into()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(seen.len(), 1, "no repair was needed");
    let c = &r["attempts"][0]["candidates"][0];
    let fixits = c["fixits"].as_array().unwrap();
    assert_eq!(fixits.len(), 1, "{c}");
    let f = fixits[0].as_str().unwrap();
    assert!(
        f.contains("line 2") && f.contains("block.colour") && f.contains("color(block)"),
        "{f}"
    );
    assert!(c["static_errors"].as_array().unwrap().is_empty());
    assert_eq!(c["success_rate"], 1.0);
    let program = c["program"].as_str().unwrap();
    assert!(
        program.contains("say(color(block));") && !program.contains(".colour"),
        "{program}"
    );
    let shown = std::fs::read_to_string(out.join("final.rhai")).unwrap();
    assert!(shown.contains("say(color(block));"), "{shown}");
}

#[test]
fn run_does_not_apply_a_fix_it_that_is_not_certain() {
    // `block.weight` has no query to write instead: a repair is asked for.
    let first = "```rhai\nlet block = find(\"red block\");\nsay(block.weight);\npick(block);\nplace_on(block, \"blue_plate\");\n```";
    let (o, seen, r, _) = scripted_run("run-nofixit", vec![first.into(), RIGHT.into()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(seen.len(), 2, "the uncertain fix is left to a repair");
    let ask = seen[1]["messages"][1]["content"].as_str().unwrap();
    assert!(ask.contains("block.weight"), "{ask}");
    let c = &r["attempts"][0]["candidates"][0];
    assert!(c["fixits"].as_array().unwrap().is_empty());
    assert!(!c["static_errors"].as_array().unwrap().is_empty());
}
