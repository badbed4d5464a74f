//! Running a program: static check, sandboxed execution with every call traced, the
//! world left to settle, and the task's hidden success predicate evaluated.

use std::sync::{Arc, Mutex};

use cap_core::failure::{Failure, FailureKind};
use cap_core::scene::{Scene, TaskSpec};
use cap_core::trace::{EventKind, TraceEvent};
use cap_sim::prelude::*;
use rhai::{Dynamic, EvalAltResult, AST};
use serde_json::Value;

use crate::api::{self, lock, Category, Session, SharedSession};
use crate::check::{check_ast, check_program, StaticError};
use crate::monitor::SharedMonitor;
use crate::sandbox::{self, Limits, COMPUTE_TOKEN, OPERATIONS_TOKEN, WALL_CLOCK_TOKEN};

/// Native stack for the interpreter thread: deep (but bounded) recursion must hit the
/// call-depth limit, never the thread's stack.
const SCRIPT_STACK_BYTES: usize = 64 * 1024 * 1024;
/// Time the world is left to settle after the program ends, seconds.
const SETTLE_S: f64 = 0.5;

/// How to run an episode.
#[derive(Clone, Default)]
pub struct EpisodeOptions {
    /// Sandbox limits.
    pub limits: Limits,
    /// The inspector behind `checkpoint(...)`; without one, checkpoints answer
    /// `cannot_tell` and are not recorded.
    pub monitor: Option<SharedMonitor>,
    /// Check each subgoal's text as a statement when the next subgoal begins and when
    /// the program ends.
    pub checkpoint_on_subgoal: bool,
    /// Records the episode as it runs (a rerun recording), if set.
    pub recorder: Option<SharedRecorder>,
    /// What the recorder calls this episode (e.g. `attempt 2, sample 0, seed 0`).
    pub label: String,
    /// The repair loop's attempt this episode belongs to (0 outside the loop).
    pub attempt: u32,
    /// Names the episode's checkpoint images: a subdirectory of the monitor's image
    /// directory (empty: none), so episodes sharing a monitor (the seeds and attempts
    /// of `cap run`) do not overwrite each other's frames.
    pub episode_id: String,
}

/// Something that records episodes as they run: cap-viz's rerun recorder. It sees the
/// world before the program starts (and may observe every physics step), then the
/// whole trace and the settled world at the end. Episodes may run at the same time
/// (the seeds of an eval task share one recording), so each gets a handle of its own.
pub trait EpisodeRecorder: Send + Sync {
    /// The episode `label` (of `attempt`) is about to run `source` on `world`: its
    /// recording, or `None` when this episode is not recorded.
    fn begin(
        &self,
        world: &World,
        source: &str,
        label: &str,
        attempt: u32,
    ) -> Option<Box<dyn RecordedEpisode>>;
}

/// One episode being recorded ([`EpisodeRecorder::begin`]).
pub trait RecordedEpisode: Send {
    /// Installed on the world for the episode, to see every physics step.
    fn observer(&self) -> Option<cap_sim::observer::SharedObserver>;
    /// The episode ended with `trace` on the settled `world`.
    fn end(self: Box<Self>, world: &World, trace: &[TraceEvent]);
}

/// A shared recorder.
pub type SharedRecorder = Arc<dyn EpisodeRecorder>;

impl std::fmt::Debug for EpisodeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpisodeOptions")
            .field("limits", &self.limits)
            .field("monitor", &self.monitor.is_some())
            .field("checkpoint_on_subgoal", &self.checkpoint_on_subgoal)
            .field("recorder", &self.recorder.is_some())
            .field("label", &self.label)
            .field("attempt", &self.attempt)
            .field("episode_id", &self.episode_id)
            .finish()
    }
}

/// Everything that happened in one episode.
pub struct Episode {
    /// The trace (also for static failures: start, abort, end).
    pub trace: Vec<TraceEvent>,
    /// Problems the static checker found; when non-empty nothing ran.
    pub static_errors: Vec<StaticError>,
    /// Why the program stopped early, with its source line.
    pub abort: Option<(Failure, Option<u32>)>,
    /// Whether the episode succeeded: the program ran to its end without an uncaught
    /// failure and the task's success predicate then held (None without a task or if
    /// nothing ran).
    pub success: Option<bool>,
    /// Whether the success predicate held on the settled world, aborted or not (None
    /// without a task or if nothing ran).
    pub predicate: Option<bool>,
    /// Why the task failed, when the program ran to the end but the predicate is false.
    pub outcome: Option<Failure>,
    /// The world at the end.
    pub world: World,
}

impl Episode {
    /// The failure that best explains a failed episode: the static error, the abort,
    /// or the outcome.
    pub fn primary_failure(&self) -> Option<(Failure, Option<u32>)> {
        if let Some(e) = self.static_errors.first() {
            return Some((e.failure.clone(), Some(e.line)));
        }
        if let Some(a) = &self.abort {
            return Some(a.clone());
        }
        self.outcome.clone().map(|f| (f, None))
    }
}

/// Run `source` on `world` for `task` (if any). Never panics on program input; every
/// outcome is in the returned [`Episode`].
pub fn run_episode(
    mut world: World,
    source: &str,
    task: Option<&TaskSpec>,
    opts: &EpisodeOptions,
) -> Episode {
    if let Some(t) = task {
        world.set_time_limit(t.time_limit_s);
    }
    let recording = opts
        .recorder
        .as_ref()
        .and_then(|r| r.begin(&world, source, &opts.label, opts.attempt));
    if let Some(r) = &recording {
        world.set_observer(r.observer());
    }
    let scene_name = world.scene().name.clone();
    let seed = world.seed();
    let mut fresh = Session::new(world, true);
    fresh.monitor = opts.monitor.clone();
    fresh.checkpoint_on_subgoal = opts.checkpoint_on_subgoal;
    fresh.episode.clone_from(&opts.episode_id);
    let session: SharedSession = Arc::new(Mutex::new(fresh));
    let (mut engine, meter) = sandbox::metered_engine(&opts.limits);
    api::register(&mut engine, &session, &meter, |_| true);
    {
        let s = Arc::clone(&session);
        engine.on_print(move |text| {
            let mut s = lock(&s);
            let text: String = text.chars().take(500).collect();
            s.push(
                None,
                EventKind::Call {
                    function: "print".into(),
                    args: vec![Value::String(text)],
                    result: Value::Null,
                    failure: None,
                    detail: None,
                },
            );
        });
    }

    let start = EventKind::Start {
        scene: scene_name,
        task: task.map(|t| t.name.clone()),
        seed,
        program_sha256: cap_core::vocabulary::sha256_hex(source.as_bytes()),
    };
    lock(&session).push(None, start);

    let scene = lock(&session).world.scene().clone();
    let checked = check_program(&engine, source, &scene);
    let (static_errors, abort) = match checked {
        Err(errors) => {
            let first = errors[0].clone();
            lock(&session).push(
                Some(first.line),
                EventKind::Abort {
                    failure: first.failure.clone(),
                },
            );
            (errors, None)
        }
        Ok(ast) => {
            let result = run_on_big_stack(&engine, &ast);
            let abort = result.err().map(|e| failure_of(&e, &opts.limits));
            if let Some((f, line)) = &abort {
                lock(&session).push(*line, EventKind::Abort { failure: f.clone() });
            }
            (Vec::new(), abort)
        }
    };
    drop(engine);

    let ran = static_errors.is_empty();
    let mut session = match Arc::try_unwrap(session) {
        Ok(m) => m.into_inner().unwrap_or_else(|e| e.into_inner()),
        // The engine (the only other owner) was dropped above.
        Err(shared) => {
            let mut s = lock(&shared);
            let w = s.world.fork();
            let mut fresh = Session::new(w, true);
            fresh.trace = std::mem::take(&mut s.trace);
            fresh.subgoal = s.subgoal.clone();
            fresh.monitor = s.monitor.clone();
            fresh.checkpoint_on_subgoal = s.checkpoint_on_subgoal;
            fresh.checkpoints = s.checkpoints;
            fresh.episode = std::mem::take(&mut s.episode);
            fresh
        }
    };
    if ran {
        session.world.settle(SETTLE_S);
        // The last subgoal is judged on the settled world.
        session.check_subgoal();
    }

    let (predicate, outcome) = match (task, ran) {
        (Some(t), true) => {
            let (world, verdict) = eval_predicate(session.world, &t.success, &opts.limits);
            session.world = world;
            match verdict {
                Ok(true) => (Some(true), None),
                Ok(false) => (Some(false), Some(outcome_failure(&session.world))),
                Err(f) => (Some(false), Some(f)),
            }
        }
        _ => (None, None),
    };
    // A program that stopped on an uncaught failure did not do its task, whatever the
    // predicate says of the world it left: the episode failed, for the abort.
    let success = predicate.map(|held| held && abort.is_none());
    let mut objects: Vec<(String, [f64; 3])> = session
        .world
        .object_states()
        .into_iter()
        .map(|o| (o.name.clone(), o.position().coords.into()))
        .collect();
    objects.sort_by(|a, b| a.0.cmp(&b.0));
    let end_failure = match &abort {
        Some((f, _)) => Some(f.clone()),
        None => outcome.clone(),
    };
    session.push(
        None,
        EventKind::End {
            success,
            failure: end_failure,
            objects,
        },
    );

    if let Some(r) = recording {
        session.world.set_observer(None);
        r.end(&session.world, &session.trace);
    }
    Episode {
        trace: session.trace,
        static_errors,
        abort,
        success,
        predicate,
        outcome,
        world: session.world,
    }
}

fn outcome_failure(world: &World) -> Failure {
    if let Some(o) = world
        .object_states()
        .into_iter()
        .find(|o| o.position().z < cap_core::vocabulary::OFF_TABLE_Z_M)
    {
        return Failure::with_object(
            FailureKind::ObjectFell,
            format!("{} fell off the table", o.name),
            o.name,
        );
    }
    Failure::new(
        FailureKind::PredicateUnmet,
        "the program finished but the task's success condition does not hold",
    )
}

fn run_on_big_stack(engine: &rhai::Engine, ast: &AST) -> Result<(), Box<EvalAltResult>> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("cap-script".into())
            .stack_size(SCRIPT_STACK_BYTES)
            .spawn_scoped(scope, || engine.run_ast(ast));
        match handle {
            Ok(h) => h.join().unwrap_or_else(|_| {
                Err(Box::new(EvalAltResult::ErrorRuntime(
                    "interpreter thread panicked".into(),
                    rhai::Position::NONE,
                )))
            }),
            Err(e) => Err(Box::new(EvalAltResult::ErrorRuntime(
                format!("cannot start interpreter thread: {e}").into(),
                rhai::Position::NONE,
            ))),
        }
    })
}

/// Map an engine error to a typed failure and the source line it happened on.
pub fn failure_of(e: &EvalAltResult, limits: &Limits) -> (Failure, Option<u32>) {
    let line = e.position().line().map(|l| l as u32);
    let f = match e {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => return failure_of(inner, limits),
        EvalAltResult::ErrorRuntime(v, _) => api::failure_from_value(v).unwrap_or_else(|| {
            Failure::new(FailureKind::ScriptError, format!("uncaught error: {v}"))
        }),
        EvalAltResult::ErrorTooManyOperations(_) => Failure::new(
            FailureKind::SandboxLimit,
            format!(
                "operation limit ({}) reached: an endless or very long loop?",
                limits.max_operations
            ),
        ),
        EvalAltResult::ErrorStackOverflow(_) => Failure::new(
            FailureKind::SandboxLimit,
            format!(
                "call depth limit ({}) reached: runaway recursion?",
                limits.max_call_levels
            ),
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => Failure::new(
            FailureKind::SandboxLimit,
            format!(
                "{what} exceeds the sandbox size limit (strings {} bytes, arrays {}, maps {})",
                limits.max_string_size, limits.max_array_size, limits.max_map_size
            ),
        ),
        EvalAltResult::ErrorTerminated(token, _) if token.to_string() == WALL_CLOCK_TOKEN => {
            Failure::new(
                FailureKind::SandboxLimit,
                format!(
                    "wall-clock limit ({:.1} s) reached",
                    limits.max_wall.as_secs_f64()
                ),
            )
        }
        EvalAltResult::ErrorTerminated(token, _) if token.to_string() == COMPUTE_TOKEN => {
            Failure::new(
                FailureKind::SandboxLimit,
                format!(
                    "compute time limit ({:.1} s) reached: the program computed that long without moving; an endless loop?",
                    limits.max_compute.as_secs_f64()
                ),
            )
        }
        EvalAltResult::ErrorTerminated(token, _) if token.to_string() == OPERATIONS_TOKEN => {
            Failure::new(
                FailureKind::SandboxLimit,
                format!(
                    "operation limit ({}, each API call counting {}) reached: an endless or very long loop?",
                    limits.max_operations, limits.host_call_ops
                ),
            )
        }
        EvalAltResult::ErrorTooManyVariables(_) | EvalAltResult::ErrorTooManyModules(_) => {
            Failure::new(FailureKind::SandboxLimit, format!("sandbox limit: {e}"))
        }
        other => Failure::new(FailureKind::ScriptError, other.to_string()),
    };
    (f, line)
}

/// Evaluate a success predicate on `world` with the query API only. The world is
/// handed back unchanged.
pub fn eval_predicate(world: World, expr: &str, limits: &Limits) -> (World, Result<bool, Failure>) {
    let session: SharedSession = Arc::new(Mutex::new(Session::new(world, false)));
    let (mut engine, meter) = sandbox::metered_engine(limits);
    api::register(&mut engine, &session, &meter, |f| {
        f.category == Category::Query
    });
    let scene = lock(&session).world.scene().clone();
    let verdict = (|| {
        let ast = engine.compile(expr).map_err(|e| {
            Failure::new(
                FailureKind::ScriptError,
                format!("success predicate does not parse: {e}"),
            )
        })?;
        if let Some(e) = check_ast(&ast, &scene, true).first() {
            return Err(Failure::new(
                FailureKind::ScriptError,
                format!("success predicate: {e}"),
            ));
        }
        let v: Dynamic = engine
            .eval_ast(&ast)
            .map_err(|e| failure_of(&e, limits).0)?;
        v.as_bool().map_err(|t| {
            Failure::new(
                FailureKind::ScriptError,
                format!("success predicate returned {t}, not bool"),
            )
        })
    })();
    drop(engine);
    let world = match Arc::try_unwrap(session) {
        Ok(m) => m.into_inner().unwrap_or_else(|e| e.into_inner()).world,
        Err(shared) => lock(&shared).world.fork(),
    };
    (world, verdict)
}

/// Check a task's success predicate statically (for `cap validate`).
pub fn check_predicate(scene: &Scene, expr: &str) -> Vec<StaticError> {
    let engine = sandbox::engine(&Limits::default());
    match engine.compile(expr) {
        Err(e) => vec![StaticError {
            fix: None,
            line: e.position().line().unwrap_or(0) as u32,
            column: e.position().position().unwrap_or(0) as u32,
            failure: Failure::new(
                FailureKind::ParseError,
                format!("syntax error: {}", e.err_type()),
            ),
        }],
        Ok(ast) => check_ast(&ast, scene, true),
    }
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
