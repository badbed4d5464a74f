//! End-to-end tests of what a program can rely on: the arm reaches what it can reach
//! (the reach grid), `pick` chooses a grasp that is clear, outcomes are honest (an
//! uncaught failure is a failed episode whatever the world looks like), and a program
//! can ask what is reachable.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;
use common::{cap, exec, stderr, stdout, tmp};

use serde_json::Value;

fn events(trace: &str) -> Vec<Value> {
    trace
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// What the program `say`s, in order.
fn said(trace: &str) -> Vec<String> {
    events(trace)
        .into_iter()
        .filter(|e| e["event"] == "call" && e["function"] == "say")
        .map(|e| e["args"][0].as_str().unwrap().to_owned())
        .collect()
}

/// Grid points (x, y, z in cm) a line of the reach grid's `say`s names.
fn grid_point(line: &str) -> (i64, i64, i64) {
    let mut it = line
        .split([' ', ':'])
        .skip(1)
        .take(3)
        .map(|v| (v.parse::<f64>().unwrap() * 100.0).round() as i64);
    (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
}

/// The reach grid of the runtime issue: tool-down moves over an empty table. Every
/// point the arm reaches is reached (among them those the IK used to refuse near the
/// base and at the edge of reach), and every refusal is honest: an `unreachable` point
/// beyond 0.75 m of the base, never a stall a hair from a reachable target or a "flip"
/// on a line the arm can follow.
#[test]
fn the_reach_grid_reaches_every_reachable_point_and_refuses_honestly() {
    let out = tmp("reach-grid");
    let o = cap(&[
        "exec",
        "tests/scenes/empty_table.toml",
        "tests/programs/reach_grid.rhai",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let trace = std::fs::read_to_string(out.join("trace.jsonl")).unwrap();
    let lines = said(&trace);
    assert_eq!(lines.len(), 14 * 12 * 2, "{lines:?}");
    let ok: Vec<_> = lines
        .iter()
        .filter(|l| l.starts_with("ok "))
        .map(|l| grid_point(l))
        .collect();
    // Refused before the fix, at both heights.
    for (x, y) in [(80, 0), (75, 20), (65, 40), (25, 0), (30, 15)] {
        for z in [15, 3] {
            assert!(ok.contains(&(x, y, z)), "({x}, {y}, {z}) not reached");
        }
    }
    // Everything within 0.75 m of the base at table height is in reach.
    for i in 0..14 {
        for j in 0..12 {
            let (x, y) = (20 + 5 * i, 5 * j);
            if ((x * x + y * y) as f64).sqrt() <= 75.0 {
                for z in [15, 3] {
                    assert!(ok.contains(&(x, y, z)), "({x}, {y}, {z}) not reached");
                }
            }
        }
    }
    for l in lines.iter().filter(|l| l.starts_with("fail ")) {
        assert!(l.contains(": unreachable: "), "{l}");
        assert!(!l.contains("flip"), "{l}");
        let (x, y, _) = grid_point(l);
        assert!(
            ((x * x + y * y) as f64).sqrt() > 75.0,
            "refused within reach: {l}"
        );
    }
    println!("reach grid: {} of {} points reached", ok.len(), lines.len());
}

/// Regression: a program that reached the task's goal and then stopped on an uncaught
/// collision exited 0 with `"status": "success"` next to a `failure`. It is a failed
/// episode: exit 1, and the report, the trace's end event and the printed line agree.
#[test]
fn an_uncaught_failure_after_the_goal_is_reached_is_a_failed_episode() {
    let (o, r, trace) = exec(
        "tests/programs/aborted_after_success.rhai",
        Some("red_on_blue"),
        0,
        "aborted-after-success",
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_eq!(r["status"], "failed");
    assert_eq!(r["success"], false);
    assert_eq!(r["exit_code"], 1);
    assert_eq!(r["predicate_held"], true, "the red block is on the plate");
    assert_eq!(r["failure"]["kind"], "collision", "{}", r["failure"]);
    assert_eq!(r["failure"]["line"], 5);
    let ev = events(&trace);
    let end = ev.last().unwrap();
    assert_eq!(end["event"], "end");
    assert_eq!(end["success"], false);
    assert_eq!(end["failure"]["kind"], "collision");
    let abort = ev.iter().find(|e| e["event"] == "abort").unwrap();
    assert_eq!(abort["failure"], end["failure"]);
    let printed = stdout(&o);
    assert!(printed.contains(": failed"), "{printed}");
    assert!(!printed.contains(": success"), "{printed}");
}
