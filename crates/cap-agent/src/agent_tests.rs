//! The loop's decisions with a scripted provider: stop at the threshold, repair from
//! the report of what failed, stop when the provider fails, keep the best program when
//! nothing reaches the threshold.

use std::sync::{Arc, Mutex};

use cap_core::scene::Scene;
use cap_llm::{ChatRequest, ChatResponse, LlmError, Provider};

use super::*;

const GOOD: &str = "```rhai\npick(\"red_block\");\nplace_on(\"red_block\", \"blue_plate\");\n```";
/// Runs, but puts the block in the wrong place.
const WRONG: &str = "```rhai\npick(\"red_block\");\nplace_on(\"red_block\", \"yellow_bowl\");\n```";
/// Rejected before running.
const BROKEN: &str = "```rhai\npick(\"red_block\"\n```";

/// Replies from a script, in order; records every request.
struct Scripted {
    replies: Mutex<Vec<Result<String, LlmError>>>,
    seen: Mutex<Vec<ChatRequest>>,
}

impl Scripted {
    fn new(replies: Vec<Result<&str, LlmError>>) -> Self {
        Self {
            replies: Mutex::new(replies.into_iter().map(|r| r.map(str::to_owned)).collect()),
            seen: Mutex::new(Vec::new()),
        }
    }
    fn user_messages(&self) -> Vec<String> {
        self.seen
            .lock()
            .map(|s| s.iter().map(|r| r.messages[1].content.clone()).collect())
            .unwrap_or_default()
    }
}

impl Provider for Scripted {
    fn id(&self) -> String {
        "scripted".into()
    }
    fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        if let Ok(mut s) = self.seen.lock() {
            s.push(req.clone());
        }
        let next = self.replies.lock().ok().and_then(|mut r| {
            if r.is_empty() {
                None
            } else {
                Some(r.remove(0))
            }
        });
        let content = next.unwrap_or_else(|| {
            Err(LlmError::Generation {
                message: "the script ran out".into(),
            })
        })?;
        Ok(ChatResponse {
            content,
            tokens_in: 10,
            tokens_out: 5,
            model: "scripted".into(),
            cached: false,
        })
    }
}

fn run(provider: &Scripted, max_attempts: u32) -> RunReport {
    run_with(provider, max_attempts, Vec::new(), false)
}

fn run_with(
    provider: &Scripted,
    max_attempts: u32,
    functions: Vec<crate::skills::Helper>,
    plan: bool,
) -> RunReport {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenes/tabletop.toml");
    let scene = Arc::new(Scene::load(path).unwrap_or_else(|e| panic!("{e}")));
    let task = scene.task("red_on_blue").cloned();
    let instruction = task
        .as_ref()
        .map(|t| t.instruction.clone())
        .unwrap_or_default();
    let agent = Agent::new(provider, Prompts::default(), scene, task, instruction)
        .with_functions(functions);
    let cfg = RunConfig {
        seeds: vec![0, 1],
        max_attempts,
        threads: 1,
        plan,
        ..RunConfig::default()
    };
    agent.run(&cfg, &|_| {})
}

#[test]
fn a_working_first_program_stops_the_loop() {
    let p = Scripted::new(vec![Ok(GOOD)]);
    let r = run(&p, 3);
    assert!(r.success, "{}", r.stopped);
    assert_eq!(r.attempts.len(), 1);
    assert_eq!(r.attempts[0].kind, "generate");
    assert_eq!(r.best_success_rate, 1.0);
    assert!(r.stopped.contains("reached the threshold"), "{}", r.stopped);
    assert!(r
        .final_program
        .as_deref()
        .is_some_and(|f| f.contains("blue_plate")));
    assert_eq!((r.attempts[0].tokens_in, r.attempts[0].tokens_out), (10, 5));
    assert_eq!(
        p.user_messages().len(),
        1,
        "no more questions after success"
    );
}

#[test]
fn a_rejected_program_is_repaired_from_its_errors() {
    let p = Scripted::new(vec![Ok(BROKEN), Ok(GOOD)]);
    let r = run(&p, 3);
    assert!(r.success, "{}", r.stopped);
    assert_eq!(r.attempts.len(), 2);
    assert_eq!(r.attempts[1].kind, "repair");
    let first = &r.attempts[0].candidates[0];
    assert!(!first.static_errors.is_empty());
    assert_eq!(first.success_rate, 0.0);
    // The repair prompt shows the numbered program and why it was rejected.
    let asked = p.user_messages();
    assert!(asked[1].contains("rejected before running"), "{}", asked[1]);
    assert!(asked[1].contains("1 | pick(\"red_block\""), "{}", asked[1]);
}

#[test]
fn a_failing_run_is_repaired_from_its_failure_report() {
    let p = Scripted::new(vec![Ok(WRONG), Ok(GOOD)]);
    let r = run(&p, 3);
    assert!(r.success, "{}", r.stopped);
    let first = &r.attempts[0].candidates[0];
    assert!(first.static_errors.is_empty());
    assert_eq!(first.success_rate, 0.0);
    assert!(first.failure_report.is_some());
    let asked = p.user_messages();
    assert!(asked[1].contains("- class: "), "{}", asked[1]);
    assert!(asked[1].contains("yellow_bowl"), "{}", asked[1]);
}

#[test]
fn a_provider_failure_ends_the_loop_and_says_so() {
    let p = Scripted::new(vec![
        Ok(WRONG),
        Err(LlmError::Unreachable {
            url: "http://127.0.0.1:9/v1".into(),
            message: "connection refused".into(),
        }),
    ]);
    let r = run(&p, 5);
    assert!(!r.success);
    assert_eq!(r.attempts.len(), 2, "stops at the failing attempt");
    assert!(
        r.stopped.contains("failed on attempt 2") && r.stopped.contains("connection refused"),
        "{}",
        r.stopped
    );
    assert!(r.attempts[1].llm_error.is_some());
    // The best program so far is still handed back.
    assert!(r
        .final_program
        .as_deref()
        .is_some_and(|f| f.contains("yellow_bowl")));
}

#[test]
fn without_success_the_loop_uses_every_attempt_and_keeps_the_best() {
    let p = Scripted::new(vec![Ok(BROKEN), Ok(WRONG)]);
    let r = run(&p, 2);
    assert!(!r.success);
    assert_eq!(r.attempts.len(), 2);
    assert!(
        r.stopped
            .contains("no program reached 50% within 2 attempts"),
        "{}",
        r.stopped
    );
    assert_eq!(r.best_success_rate, 0.0);
    // Neither succeeded: the program that parses replaces the one that does not (a
    // later one replaces it otherwise only by doing better).
    assert!(r
        .final_program
        .as_deref()
        .is_some_and(|f| f.contains("yellow_bowl")));
}

#[test]
fn a_repair_that_repeats_a_tried_program_is_not_run_and_is_asked_again_hotter() {
    // The repair hands back the failing program (with other whitespace); asked again,
    // the model writes a different one.
    let same_again =
        "```rhai\npick(\"red_block\");   place_on(\"red_block\",\n \"yellow_bowl\");\n```";
    let p = Scripted::new(vec![Ok(WRONG), Ok(same_again), Ok(GOOD)]);
    let r = run(&p, 3);
    assert!(r.success, "{}", r.stopped);
    assert_eq!(r.attempts.len(), 2);
    assert_eq!(r.attempts[1].repeats, 1);
    let seen = p.seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(seen.len(), 3);
    assert!(seen[2].messages[1]
        .content
        .contains("same program as one already tried"));
    assert!(seen[2].temperature >= 0.9, "{}", seen[2].temperature);
    assert_ne!(
        seen[2].sample, seen[1].sample,
        "another sample, not the cached repeat"
    );
    // Only two programs ran: the wrong one and the good one.
    let ran: usize = r
        .attempts
        .iter()
        .flat_map(|a| &a.candidates)
        .filter(|c| !c.seeds.is_empty())
        .count();
    assert_eq!(ran, 2);
}

#[test]
fn a_repeat_asked_again_and_repeated_again_is_refused_without_running() {
    let p = Scripted::new(vec![Ok(WRONG), Ok(WRONG), Ok(WRONG), Ok(GOOD)]);
    let r = run(&p, 3);
    assert!(r.success, "{}", r.stopped);
    assert_eq!(r.attempts.len(), 3);
    assert_eq!(r.attempts[1].repeats, 2);
    let refused = &r.attempts[1].candidates[0];
    assert!(refused.seeds.is_empty(), "not run");
    assert!(refused.static_errors[0].contains("repeats a program already tried"));
}

#[test]
fn a_library_function_the_program_calls_is_spliced_in_without_asking() {
    let lib = "fn transfer_item(o, t) {\n    pick(o);\n    place_on(o, t);\n}";
    let functions = crate::skills::helpers_of(lib);
    let p = Scripted::new(vec![Ok(
        "```rhai\ntransfer_item(\"red_block\", \"blue_plate\");\n```",
    )]);
    let r = run_with(&p, 2, functions, false);
    assert!(r.success, "{}", r.stopped);
    assert_eq!(
        p.user_messages().len(),
        1,
        "the model was asked for the helper"
    );
    let c = &r.attempts[0].candidates[0];
    assert_eq!(c.helpers, ["transfer_item"]);
    assert!(c.program.starts_with(lib), "{}", c.program);
    // Without the library the model is asked to define it.
    let p = Scripted::new(vec![
        Ok("```rhai\ntransfer_item(\"red_block\", \"blue_plate\");\n```"),
        Ok("```rhai\nfn transfer_item(o, t) { pick(o); place_on(o, t); }\n```"),
    ]);
    let r = run_with(&p, 2, Vec::new(), false);
    assert!(r.success, "{}", r.stopped);
    assert_eq!(p.user_messages().len(), 2);
}

#[test]
fn plan_then_code_asks_for_the_steps_first_and_writes_them_as_comments() {
    let p = Scripted::new(vec![
        Ok("Steps:\n1. pick up the red block\n2. put it on the blue plate"),
        Ok(GOOD),
    ]);
    let r = run_with(&p, 2, Vec::new(), true);
    assert!(r.success, "{}", r.stopped);
    assert_eq!(
        r.plan.as_deref(),
        Some(
            &[
                "pick up the red block".to_owned(),
                "put it on the blue plate".to_owned()
            ][..]
        )
    );
    let asked = p.user_messages();
    assert_eq!(asked.len(), 2);
    assert!(asked[0].contains("Write no code"), "{}", asked[0]);
    assert!(
        asked[1].contains("// 1. pick up the red block\n// 2. put it on the blue plate"),
        "{}",
        asked[1]
    );
    // The plan's tokens count to attempt 1; a plan request is not decoded under the grammar.
    assert_eq!(r.attempts[0].tokens_in, 20);
    assert!(p.seen.lock().unwrap()[0].grammar.is_none());
    // Without --plan nothing of the kind is asked.
    let p = Scripted::new(vec![Ok(GOOD)]);
    let r = run_with(&p, 2, Vec::new(), false);
    assert!(r.plan.is_none() && p.user_messages().len() == 1);
}

#[test]
fn a_repair_that_dropped_its_let_lines_gets_them_back() {
    let p = Scripted::new(vec![
        Ok("```rhai\nlet block = find(\"red block\");\nlet plate = find(\"yellow bowl\");\npick(block);\nplace_on(block, plate);\n```"),
        Ok("```rhai\nlet plate = find(\"blue plate\");\npick(block);\nplace_on(block, plate);\n```"),
    ]);
    let r = run(&p, 2);
    assert!(r.success, "{}", r.stopped);
    let c = &r.attempts[1].candidates[0];
    assert!(
        c.program
            .starts_with("let block = find(\"red block\");\nlet plate = find(\"blue plate\");"),
        "{}",
        c.program
    );
    assert_eq!(c.fixits.len(), 1, "{:?}", c.fixits);
    assert!(c.fixits[0].contains("carried `let block"), "{:?}", c.fixits);
}

#[test]
fn fixits_are_applied_round_after_round_and_kept_when_errors_remain() {
    // Round 1 fixes the parse error (a placeholder closure), which hid round 2's
    // coordinate of an object name; the program then checks clean and runs.
    let p = Scripted::new(vec![Ok("```rhai\nlet plate = find(\"blue plate\");\nlet reds = find_all(\"block\").filter || color(_) == \"red\";\nfor b in reds {\n    pick(b);\n    place_on(b, plate);\n}\nlet x = plate[0];\n```")]);
    let r = run(&p, 1);
    assert!(r.success, "{}", r.stopped);
    let c = &r.attempts[0].candidates[0];
    assert_eq!(c.fixits.len(), 2, "{:?}", c.fixits);
    assert!(
        c.program.contains(".filter(|n| color(n) == \"red\")"),
        "{}",
        c.program
    );
    assert!(c.program.contains("position(plate)[0]"), "{}", c.program);
    // A fix is kept when an error it cannot fix remains: the repair starts from it.
    let p = Scripted::new(vec![
        Ok("```rhai\nlet reds = find_all(\"block\").filter || color(_) == \"red\";\nfly_to(\"red_block\");\n```"),
        Ok(GOOD),
    ]);
    let r = run(&p, 2);
    assert!(r.success, "{}", r.stopped);
    let c = &r.attempts[0].candidates[0];
    assert_eq!(c.fixits.len(), 1, "{:?}", c.fixits);
    assert!(
        c.static_errors[0].contains("fly_to"),
        "{:?}",
        c.static_errors
    );
    let asked = p.user_messages();
    assert!(
        asked[1].contains(".filter(|n| color(n) == \"red\")"),
        "{}",
        asked[1]
    );
}

#[test]
fn picking_both_then_placing_both_is_reordered_and_runs() {
    let p = Scripted::new(vec![Ok("```rhai\nsubgoal(\"pick up the red block\");\npick(\"red_block\");\nsubgoal(\"pick up the green block\");\npick(\"green_block\");\nsubgoal(\"put the red block on the blue plate\");\nplace_on(\"red_block\", \"blue_plate\");\ncheckpoint(\"the red block is on the blue plate\");\nplace_on(\"green_block\", \"green_bowl\");\n```")]);
    let r = run(&p, 1);
    assert!(r.success, "{}", r.stopped);
    let c = &r.attempts[0].candidates[0];
    assert_eq!(c.fixits.len(), 1, "{:?}", c.fixits);
    assert!(
        c.fixits[0].contains("gripper holds one object at a time"),
        "{:?}",
        c.fixits
    );
    let red = c.program.find("place_on(\"red_block\"").unwrap();
    assert!(
        red < c.program.find("pick(\"green_block\")").unwrap(),
        "{}",
        c.program
    );
}
