//! The episode runner's outcomes: success, a predicate that does not hold, an uncaught
//! failure, a static rejection, and the mapping of engine errors and predicates.

use std::sync::Arc;

use cap_core::scene::Scene;

use super::*;

fn scene() -> Arc<Scene> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenes/tabletop.toml");
    Arc::new(Scene::load(path).unwrap_or_else(|e| panic!("{e}")))
}

fn episode(source: &str) -> Episode {
    let scene = scene();
    let task = scene.task("red_on_blue").cloned();
    let world = World::new(Arc::clone(&scene), 0).unwrap_or_else(|e| panic!("{e}"));
    run_episode(world, source, task.as_ref(), &EpisodeOptions::default())
}

fn kinds(trace: &[TraceEvent]) -> Vec<&'static str> {
    trace
        .iter()
        .map(|e| match e.event {
            EventKind::Start { .. } => "start",
            EventKind::Call { .. } => "call",
            EventKind::Checkpoint { .. } => "checkpoint",
            EventKind::Abort { .. } => "abort",
            EventKind::End { .. } => "end",
        })
        .collect()
}

#[test]
fn a_program_that_does_the_task_succeeds() {
    let e = episode("pick(\"red_block\");\nplace_on(\"red_block\", \"blue_plate\");\n");
    assert_eq!((e.success, e.predicate), (Some(true), Some(true)));
    assert!(e.abort.is_none() && e.outcome.is_none() && e.static_errors.is_empty());
    assert!(e.primary_failure().is_none());
    assert_eq!(kinds(&e.trace), ["start", "call", "call", "end"]);
    assert!(e.world.steps() > 0);
}

#[test]
fn a_program_that_ends_elsewhere_fails_on_the_predicate() {
    let e = episode("pick(\"red_block\");\nplace_on(\"red_block\", \"yellow_bowl\");\n");
    assert_eq!((e.success, e.predicate), (Some(false), Some(false)));
    let (f, line) = e.primary_failure().unwrap_or_else(|| panic!("a failure"));
    assert_eq!((f.kind, line), (FailureKind::PredicateUnmet, None));
}

#[test]
fn an_uncaught_failure_aborts_at_its_line() {
    let e = episode("pick(\"red_block\");\nmove_to([3.0, 0.0, 0.3]);\n");
    assert_eq!(e.success, Some(false));
    let (f, line) = e.abort.clone().unwrap_or_else(|| panic!("an abort"));
    assert_eq!((f.kind, line), (FailureKind::Unreachable, Some(2)));
    assert_eq!(e.primary_failure().map(|p| p.1), Some(Some(2)));
    assert!(kinds(&e.trace).contains(&"abort"));
}

#[test]
fn a_rejected_program_runs_nothing() {
    let e = episode("pick(\"red_block\"\n");
    assert!(!e.static_errors.is_empty());
    assert_eq!((e.success, e.predicate), (None, None));
    assert_eq!(e.world.steps(), 0, "nothing moved");
    assert!(!kinds(&e.trace).contains(&"call"));
    let (f, line) = e.primary_failure().unwrap_or_else(|| panic!("a failure"));
    assert_eq!(f.kind, FailureKind::ParseError);
    assert_eq!(line, Some(e.static_errors[0].line));
}

#[test]
fn predicates_are_evaluated_with_queries_only() {
    let scene = scene();
    let world = World::new(Arc::clone(&scene), 0).unwrap_or_else(|e| panic!("{e}"));
    let limits = Limits::default();
    let (world, held) = eval_predicate(
        world,
        "distance(\"red_block\", \"blue_plate\") > 0.05",
        &limits,
    );
    assert_eq!(held.ok(), Some(true));
    let (world, held) = eval_predicate(world, "is_on(\"red_block\", \"blue_plate\")", &limits);
    assert_eq!(held.ok(), Some(false));
    // A motion is not a query: the predicate is refused, and nothing moved.
    let before = world.steps();
    let (world, held) = eval_predicate(world, "pick(\"red_block\")", &limits);
    assert_eq!(held.map_err(|f| f.kind), Err(FailureKind::ScriptError));
    assert_eq!(world.steps(), before);
    let (_, held) = eval_predicate(world, "42", &limits);
    let f = held.err().unwrap_or_else(|| panic!("not a bool"));
    assert!(f.message.contains("not bool"), "{}", f.message);
    assert!(check_predicate(&scene, "is_on(\"red_block\", \"blue_plate\")").is_empty());
    assert!(!check_predicate(&scene, "is_on(\"red_block\", ").is_empty());
}

#[test]
fn engine_errors_map_to_typed_failures() {
    let limits = Limits::default();
    let (f, _) = failure_of(
        &EvalAltResult::ErrorTooManyOperations(rhai::Position::NONE),
        &limits,
    );
    assert_eq!(f.kind, FailureKind::SandboxLimit);
    let (f, line) = failure_of(
        &EvalAltResult::ErrorRuntime("boom".into(), rhai::Position::new(3, 1)),
        &limits,
    );
    assert_eq!((f.kind, line), (FailureKind::ScriptError, Some(3)));
    assert!(f.message.contains("boom"));
}
