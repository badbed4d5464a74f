//! Attribution: from an episode's trace, its checkpoints and the final world, a
//! structured failure report — class, subgoal, line, evidence — and its frequency over
//! seeds.

use std::collections::BTreeMap;

use cap_core::failure::FailureKind;
use cap_core::trace::{Answer, EventKind, TraceEvent};
use cap_script::Episode;
use serde::Serialize;

/// Failure classes the repair prompt talks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// Found before running: syntax, unknown function or object, arity.
    Static,
    /// A script error or sandbox limit while running.
    Runtime,
    /// A target the arm cannot reach (IK, joint limits, workspace, safety gate).
    Unreachable,
    /// A motion would hit the table or an object.
    Collision,
    /// The gripper closed on nothing.
    NoGrasp,
    /// A held object slipped out.
    Slipped,
    /// The program acted on objects the task is not about (or left its objects alone).
    WrongTarget,
    /// The right objects, but the steps in the wrong order or relation.
    WrongOrder,
    /// An object fell off the table.
    Fell,
    /// Simulated time ran out.
    Timeout,
    /// The real arm or its link failed (lost link, e-stop, the robot's own error or
    /// refusal, tracking): not the program's doing, and no repair of it helps.
    Robot,
}

impl FailureClass {
    /// The class of a failure kind.
    pub fn of(kind: FailureKind) -> FailureClass {
        use FailureKind as K;
        match kind {
            K::ParseError | K::UnknownFunction | K::WrongArity | K::UnknownObject => Self::Static,
            K::ScriptError | K::InvalidArgument | K::SandboxLimit | K::CheckpointFailed => {
                Self::Runtime
            }
            K::Unreachable | K::JointLimit | K::SafetyGate => Self::Unreachable,
            K::Collision => Self::Collision,
            K::NoGrasp => Self::NoGrasp,
            K::Slipped => Self::Slipped,
            K::WrongTarget | K::PredicateUnmet => Self::WrongTarget,
            K::WrongOrder => Self::WrongOrder,
            K::ObjectFell => Self::Fell,
            K::Timeout => Self::Timeout,
            K::LinkLost
            | K::RobotError
            | K::StartMismatch
            | K::Estop
            | K::TrackingError
            | K::GoalRefused => Self::Robot,
        }
    }

    /// snake_case label.
    pub fn label(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// A checkpoint the inspector judged false.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedCheckpoint {
    /// The statement.
    pub statement: String,
    /// Source line.
    pub line: Option<u32>,
    /// Subgoal at the time.
    pub subgoal: Option<String>,
    /// Which inspector said so, and how sure it was.
    pub inspector: String,
    /// Its confidence.
    pub confidence: f64,
    /// Image files it looked at.
    pub images: Vec<String>,
}

/// Why one episode failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attribution {
    /// The class.
    pub class: FailureClass,
    /// The failure kind underneath.
    pub kind: FailureKind,
    /// The subgoal it happened in.
    pub subgoal: Option<String>,
    /// The source line to look at.
    pub line: Option<u32>,
    /// The object concerned.
    pub object: Option<String>,
    /// What shows it: the failure message, the first failed checkpoint, the objects
    /// acted on.
    pub evidence: Vec<String>,
    /// The first checkpoint the inspector judged false.
    pub first_failed_checkpoint: Option<FailedCheckpoint>,
}

/// Object names quoted in a success predicate.
fn predicate_objects(predicate: &str, names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| predicate.contains(&format!("\"{n}\"")))
        .cloned()
        .collect()
}

fn first_failed_checkpoint(trace: &[TraceEvent]) -> Option<FailedCheckpoint> {
    trace.iter().find_map(|e| match &e.event {
        EventKind::Checkpoint {
            statement,
            verdicts,
            images,
            ..
        } => verdicts
            .first()
            .filter(|v| v.answer == Answer::DoesNotHold)
            .map(|v| FailedCheckpoint {
                statement: statement.clone(),
                line: e.line,
                subgoal: e.subgoal.clone(),
                inspector: v.inspector.clone(),
                confidence: v.confidence,
                images: images.clone(),
            }),
        _ => None,
    })
}

/// A motion call on objects: (function, object args, line, subgoal).
type ObjectCall = (String, Vec<String>, Option<u32>, Option<String>);

/// Motion calls that act on objects.
fn object_calls(trace: &[TraceEvent]) -> Vec<ObjectCall> {
    trace
        .iter()
        .filter_map(|e| match &e.event {
            EventKind::Call { function, args, .. }
                if matches!(function.as_str(), "pick" | "place_on" | "place_at") =>
            {
                let objs = args
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect();
                Some((function.clone(), objs, e.line, e.subgoal.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Attribute a failed episode. `predicate` is the task's success predicate.
pub fn attribute(ep: &Episode, predicate: Option<&str>) -> Option<Attribution> {
    let checkpoint = first_failed_checkpoint(&ep.trace);
    let Some((failure, line)) = ep.primary_failure() else {
        // Nothing failed but a checkpoint was judged false (a run without a task): the
        // checkpoint is the failure.
        let c = checkpoint?;
        return Some(Attribution {
            class: FailureClass::WrongTarget,
            kind: FailureKind::CheckpointFailed,
            subgoal: c.subgoal.clone(),
            line: c.line,
            object: None,
            evidence: vec![format!("checkpoint \"{}\" was judged false", c.statement)],
            first_failed_checkpoint: Some(c),
        });
    };
    let subgoal = ep
        .trace
        .iter()
        .rev()
        .find(|e| e.failure() == Some(&failure))
        .and_then(|e| e.subgoal.clone());
    let mut evidence = vec![format!("{}: {}", failure.kind, failure.message)];
    if let Some(c) = &checkpoint {
        evidence.push(format!(
            "first failed checkpoint{}: \"{}\" judged does_not_hold by {} ({:.2})",
            c.line.map_or(String::new(), |l| format!(" (line {l})")),
            c.statement,
            c.inspector,
            c.confidence
        ));
    }
    let mut a = Attribution {
        class: FailureClass::of(failure.kind),
        kind: failure.kind,
        subgoal,
        line,
        object: failure.object.clone(),
        evidence,
        first_failed_checkpoint: checkpoint.clone(),
    };
    if failure.kind == FailureKind::PredicateUnmet {
        refine_outcome(ep, predicate, &mut a);
    } else if failure.kind == FailureKind::WrongOrder {
        refine_missed_grasp(ep, &mut a);
    } else if matches!(
        failure.kind,
        FailureKind::Collision | FailureKind::NoGrasp | FailureKind::Slipped
    ) {
        refine_covered(ep, predicate, &mut a);
    }
    // Outcome failures have no line of their own: the first failed checkpoint
    // localises them (HyCodePolicy), else the call found by refinement.
    if a.line.is_none() {
        if let Some(c) = &checkpoint {
            a.line = c.line;
            a.subgoal = c.subgoal.clone();
        }
    }
    Some(a)
}

/// A placement failed because the gripper held nothing: if a `close_gripper()` before
/// it closed on nothing (it returned false), the grasp missed there, and that is the
/// root cause; the placement only followed from it.
fn refine_missed_grasp(ep: &Episode, a: &mut Attribution) {
    let Some(failing) = ep.trace.iter().rposition(|e| {
        matches!(&e.event, EventKind::Call { function, failure: Some(_), .. }
            if matches!(function.as_str(), "place_on" | "place_at"))
    }) else {
        return;
    };
    let missed = ep.trace[..failing].iter().rev().find(|e| {
        matches!(&e.event, EventKind::Call { function, result, failure: None, .. }
            if function == "close_gripper" && (result == &serde_json::Value::Bool(false) || result.is_null()))
    });
    let Some(missed) = missed else {
        return;
    };
    let placed_at = ep.trace[failing].line;
    a.evidence.insert(
        0,
        format!(
            "close_gripper() at line {} closed on nothing (it returned false): the grasp missed there, and the placement at line {} then had nothing to place",
            missed.line.map_or("?".into(), |l| l.to_string()),
            placed_at.map_or("?".into(), |l| l.to_string())
        ),
    );
    a.class = FailureClass::NoGrasp;
    a.kind = FailureKind::NoGrasp;
    a.line = missed.line;
    a.subgoal = missed.subgoal.clone();
}

/// `(a, b)` of every `is_on("a", "b")` / `is_in("a", "b")` in a predicate.
fn predicate_pairs(predicate: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in ["is_on(", "is_in("] {
        for part in predicate.split(f).skip(1) {
            let args: Vec<&str> = part.split('"').collect();
            if args.len() >= 4 {
                out.push((args[1].to_owned(), args[3].to_owned()));
            }
        }
    }
    out
}

/// A grasp or motion failed while acting on an object. If the task never asks for that
/// object to move, the program picked the wrong one; if something the program placed
/// earlier sits on it, that placement came too early (wrong order).
fn refine_covered(ep: &Episode, predicate: Option<&str>, a: &mut Attribution) {
    let failing = ep.trace.iter().rev().find_map(|e| match &e.event {
        EventKind::Call {
            function,
            args,
            failure: Some(_),
            ..
        } if matches!(function.as_str(), "pick" | "place_on" | "place_at") => args
            .first()
            .and_then(|v| v.as_str())
            .map(|o| (o.to_owned(), function.clone())),
        _ => None,
    });
    let Some((target, function)) = failing else {
        return;
    };
    let pairs = predicate.map(predicate_pairs).unwrap_or_default();
    if !pairs.is_empty() && function == "pick" && !pairs.iter().any(|(m, _)| *m == target) {
        a.evidence.push(format!(
            "the program picks {target}, which the task never asks to move"
        ));
        a.class = FailureClass::WrongTarget;
        a.kind = FailureKind::WrongTarget;
        a.object = Some(target);
        return;
    }
    let on_top = ep
        .world
        .object_states()
        .into_iter()
        .find(|o| o.name != target && ep.world.is_on(&o.name, &target).unwrap_or(false));
    let Some(top) = on_top else {
        return;
    };
    if let Some((_, _, line, sg)) = object_calls(&ep.trace).into_iter().find(|(f, objs, _, _)| {
        f == "place_on" && objs.first() == Some(&top.name) && objs.get(1) == Some(&target)
    }) {
        a.evidence.push(format!(
            "{} was placed on {target} at line {} before {target} was moved: the steps are in the wrong order",
            top.name,
            line.map_or("?".into(), |l| l.to_string())
        ));
        a.class = FailureClass::WrongOrder;
        a.kind = FailureKind::WrongOrder;
        a.line = line;
        a.subgoal = sg;
        a.object = Some(target);
    }
}

fn refine_outcome(ep: &Episode, predicate: Option<&str>, a: &mut Attribution) {
    let names = ep.world.scene().object_names();
    let wanted = predicate
        .map(|p| predicate_objects(p, &names))
        .unwrap_or_default();
    let calls = object_calls(&ep.trace);
    let touched: Vec<&String> = calls.iter().flat_map(|c| c.1.iter()).collect();
    // A task object still in the gripper: the release never happened.
    if let Some(h) = wanted
        .iter()
        .find(|w| ep.world.object(w).is_ok_and(|o| o.held))
    {
        let last = ep.trace.iter().rev().find(|e| matches!(&e.event, EventKind::Call { function, .. } if matches!(function.as_str(), "move_to" | "move_by" | "home" | "place_at" | "place_on")));
        a.class = FailureClass::WrongOrder;
        a.kind = FailureKind::WrongOrder;
        a.object = Some(h.clone());
        if let Some(e) = last {
            a.line = e.line;
            a.subgoal = e.subgoal.clone();
        }
        a.evidence.push(format!("{h} is still in the gripper at the end: open_gripper() is missing before the arm moves away"));
        return;
    }
    // A placement at coordinates that put the object on none of the task's objects.
    for (f, objs, line, sg) in &calls {
        if f == "place_at" && objs.len() == 1 {
            let on_any = wanted.iter().any(|w| {
                w != &objs[0]
                    && (ep.world.is_on(&objs[0], w).unwrap_or(false)
                        || ep.world.is_in(&objs[0], w).unwrap_or(false))
            });
            if !on_any {
                a.class = FailureClass::WrongTarget;
                a.kind = FailureKind::WrongTarget;
                a.line = *line;
                a.subgoal = sg.clone();
                a.object = Some(objs[0].clone());
                a.evidence.push(format!(
                    "place_at put {} on none of {}: the target position is off",
                    objs[0],
                    wanted.join(", ")
                ));
                return;
            }
        }
    }
    // An object acted on that the task never mentions.
    if !wanted.is_empty() {
        if let Some((f, objs, line, sg)) = calls
            .iter()
            .find(|c| c.1.iter().any(|o| names.contains(o) && !wanted.contains(o)))
        {
            let stray = objs.iter().find(|o| !wanted.contains(o)).cloned();
            a.class = FailureClass::WrongTarget;
            a.kind = FailureKind::WrongTarget;
            a.line = *line;
            a.subgoal = sg.clone();
            a.evidence.push(format!(
                "{f}({}) acts on {}, which the task does not mention (it is about {})",
                objs.join(", "),
                stray.clone().unwrap_or_default(),
                wanted.join(", ")
            ));
            a.object = stray;
            return;
        }
        if let Some(missing) = wanted.iter().find(|w| !touched.contains(w)) {
            a.class = FailureClass::WrongTarget;
            a.kind = FailureKind::WrongTarget;
            a.object = Some(missing.clone());
            a.evidence.push(format!(
                "{missing} is part of the task but the program never moves it"
            ));
            return;
        }
    }
    // The right objects: the first placement that does not hold at the end.
    for (f, objs, line, sg) in &calls {
        if f == "place_on" && objs.len() == 2 {
            let holds = ep.world.is_on(&objs[0], &objs[1]).unwrap_or(false)
                || ep.world.is_in(&objs[0], &objs[1]).unwrap_or(false);
            if !holds {
                a.class = FailureClass::WrongOrder;
                a.kind = FailureKind::WrongOrder;
                a.line = *line;
                a.subgoal = sg.clone();
                a.object = Some(objs[0].clone());
                a.evidence.push(format!(
                    "place_on({}, {}) at line {} did not last: {} is not on {} at the end (a later step undid it, or it came too early)",
                    objs[0],
                    objs[1],
                    line.map_or("?".into(), |l| l.to_string()),
                    objs[0],
                    objs[1]
                ));
                return;
            }
        }
    }
    a.class = FailureClass::WrongOrder;
    a.kind = FailureKind::WrongOrder;
    a.evidence
        .push("every placement held, but not the relation the task asks for".into());
}

/// The failure report over seeds: the most frequent class, with its frequency, and the
/// representative attribution for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureReport {
    /// The most frequent failure.
    pub main: Attribution,
    /// Fraction of the seeds that failed with this class.
    pub frequency: f64,
    /// Seeds that failed, by class.
    pub classes: BTreeMap<String, Vec<u64>>,
}

/// Summarise per-seed attributions (`None` = that seed succeeded).
pub fn report(per_seed: &[(u64, Option<Attribution>)]) -> Option<FailureReport> {
    let mut classes: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (seed, a) in per_seed {
        if let Some(a) = a {
            classes.entry(a.class.label()).or_default().push(*seed);
        }
    }
    let (label, seeds) = classes.iter().max_by_key(|(_, s)| s.len())?;
    let main = per_seed
        .iter()
        .find_map(|(_, a)| a.as_ref().filter(|a| a.class.label() == *label))?
        .clone();
    Some(FailureReport {
        main,
        frequency: seeds.len() as f64 / per_seed.len().max(1) as f64,
        classes: classes.clone(),
    })
}
