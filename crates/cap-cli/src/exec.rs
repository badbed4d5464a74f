//! `cap exec`: one program on one scene, no language model: the report and the trace
//! written in every case, with the exit code the README's table gives.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::report::{CheckpointFacts, EpisodeFacts, ExecReport, FailureFacts, Status};
use crate::robot_link::{self, LinkError, RobotArgs, RobotFacts};
use crate::{record, BadInput, InspectArgs};
use anyhow::{Context, Result};
use cap_core::failure::Failure;
use cap_core::scene::Scene;
use cap_core::vocabulary::sha256_hex;
use cap_script::run::{run_episode, EpisodeOptions};
use cap_sim::prelude::*;

fn write_outputs(
    out: &Path,
    report: &mut ExecReport,
    trace: &[cap_core::trace::TraceEvent],
) -> Result<String> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut text = String::new();
    for ev in trace {
        text.push_str(&serde_json::to_string(ev)?);
        text.push('\n');
    }
    let digest = sha256_hex(text.as_bytes());
    std::fs::write(out.join("trace.jsonl"), &text)
        .with_context(|| format!("writing {}/trace.jsonl", out.display()))?;
    report.trace_sha256 = Some(digest.clone());
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&*report)? + "\n",
    )
    .with_context(|| format!("writing {}/report.json", out.display()))?;
    Ok(digest)
}

fn invalid(out: &Path, base: ExecReport, reason: &str) -> Result<u8> {
    let mut report = base.refused(reason);
    // A report even for inputs too broken to run; if that cannot be written either,
    // say so next to the reason.
    if let Err(e) = write_outputs(out, &mut report, &[]) {
        eprintln!(
            "cap: {}: the report could not be written: {e:#}",
            out.display()
        );
    }
    Err(BadInput(reason.to_owned()).into())
}

/// A robot that could not be reached or failed before anything moved: a failed run
/// (exit 1) with the typed failure, its report and an empty trace written.
fn unreachable(out: &Path, base: ExecReport, mut facts: RobotFacts, f: &Failure) -> Result<u8> {
    facts.link_failure = Some(f.clone());
    let mut report = ExecReport {
        status: Status::Failed,
        exit_code: Status::Failed.exit_code(),
        error: Some(f.to_string()),
        robot: Some(facts),
        ..base
    };
    write_outputs(out, &mut report, &[])?;
    eprintln!("cap: {f}");
    Ok(Status::Failed.exit_code())
}

fn print_robot(r: &RobotFacts) {
    let name = r.robot.as_deref().unwrap_or("?");
    match r.sim_check {
        "failed" => println!(
            "  robot {} ({name}): not moved; the program failed in simulation on the world it reports",
            r.url
        ),
        check => {
            let skipped = if check == "skipped" {
                "; SIMULATION CHECK SKIPPED (--no-sim-check)"
            } else {
                "; simulation check passed"
            };
            println!(
                "  robot {} ({name}): {} motions, {:.1} s moving, tracking error ≤ {:.4} rad{skipped}",
                r.url, r.motions, r.motion_time_s, r.max_tracking_error_rad
            );
        }
    }
    if let Some(f) = &r.link_failure {
        println!("  robot link ended: {f}; nothing more was sent");
    }
}

/// How `cap exec` inspects, records and reaches a robot.
#[derive(Clone, Copy)]
pub struct With<'a> {
    /// The checkpoint inspector.
    pub inspect: &'a InspectArgs,
    /// The rerun recording.
    pub record: &'a record::RecordArgs,
    /// A robot behind the bridge.
    pub robot: &'a RobotArgs,
}

/// Run `program_path` on `scene_path` and write the report and trace (`cap exec`).
pub fn run(
    scene_path: &Path,
    program_path: &Path,
    task: Option<&str>,
    seed: u64,
    out: &Path,
    with: &With<'_>,
) -> Result<u8> {
    let With {
        inspect,
        record,
        robot,
    } = *with;
    let wall = Instant::now();
    let base = ExecReport {
        cap_version: env!("CARGO_PKG_VERSION"),
        scene_path: scene_path.display().to_string(),
        program: program_path.display().to_string(),
        task: task.map(str::to_owned),
        seed,
        status: Status::Invalid,
        exit_code: Status::Invalid.exit_code(),
        error: None,
        episode: None,
        trace_sha256: None,
        robot: None,
    };
    let scene = match Scene::load(scene_path) {
        Ok(s) => s,
        Err(e) => return invalid(out, base, &e.to_string()),
    };
    let source = match std::fs::read_to_string(program_path) {
        Ok(s) => s,
        Err(e) => {
            return invalid(
                out,
                base,
                &format!("{}: cannot read: {e}", program_path.display()),
            )
        }
    };
    let task_spec = match task {
        None => None,
        Some(name) => match scene.task(name) {
            Some(t) => Some(t.clone()),
            None => {
                let known: Vec<&str> = scene.tasks.iter().map(|t| t.name.as_str()).collect();
                return invalid(
                    out,
                    base,
                    &format!(
                        "{}: no task `{name}`; tasks: {}",
                        scene_path.display(),
                        known.join(", ")
                    ),
                );
            }
        },
    };
    let scene = Arc::new(scene);
    let mut world = match World::new(Arc::clone(&scene), seed) {
        Ok(w) => w,
        Err(e) => return invalid(out, base, &format!("{}: {e}", scene_path.display())),
    };
    let mut link = None;
    if let Some(url) = &robot.robot {
        match robot_link::connect(url, robot, &mut world) {
            Ok(l) => link = Some(l),
            Err(LinkError::Bad(why)) => return invalid(out, base, &why),
            Err(LinkError::Failed(facts, f)) => return unreachable(out, base, *facts, &f),
        }
    }
    // The inspector (and ONNX Runtime) is loaded only for programs that can use it.
    let inspects = source.contains("checkpoint") || inspect.checkpoint_on_subgoal;
    let monitor = if inspects {
        match inspect.monitor(out) {
            Ok(m) => m,
            Err(e) => return invalid(out, base, &e.to_string()),
        }
    } else {
        None
    };
    let what = task_spec
        .as_ref()
        .map_or("program".to_owned(), |t| t.name.clone());
    let recorder = match record.recorder(&format!("cap exec {what} seed {seed}")) {
        Ok(r) => r,
        Err(e) => return invalid(out, base, &e.to_string()),
    };
    let opts = EpisodeOptions {
        monitor,
        checkpoint_on_subgoal: inspect.checkpoint_on_subgoal,
        recorder: recorder.as_ref().map(|r| {
            cap_viz::EpisodeLog::new(Arc::clone(r), Some(out.to_path_buf()))
                as cap_script::run::SharedRecorder
        }),
        label: format!("{} seed {seed}", program_path.display()),
        ..EpisodeOptions::default()
    };
    let succeeded = |e: &cap_script::run::Episode| {
        e.static_errors.is_empty()
            && (e.success == Some(true) || (task_spec.is_none() && e.abort.is_none()))
    };
    let (episode, robot_facts) = match link {
        None => (run_episode(world, &source, task_spec.as_ref(), &opts), None),
        Some((arm, mut facts)) => {
            // Sim first: the robot moves only for a program that succeeds on the world
            // it reports.
            let check = (!robot.no_sim_check).then(|| {
                let quiet = EpisodeOptions {
                    recorder: None,
                    ..opts.clone()
                };
                run_episode(world.fork(), &source, task_spec.as_ref(), &quiet)
            });
            match check {
                Some(c) if !succeeded(&c) => {
                    facts.sim_check = "failed";
                    facts.sim_check_failure = c.primary_failure().map(|(f, _)| f);
                    (c, Some(facts))
                }
                _ => {
                    world.attach_remote(Box::new(arm));
                    let e = run_episode(world, &source, task_spec.as_ref(), &opts);
                    facts.take_world(&e.world);
                    (e, Some(facts))
                }
            }
        }
    };
    let robot_failed = robot_facts
        .as_ref()
        .is_some_and(|f| f.sim_check == "failed" || f.link_failure.is_some());
    let status = if !episode.static_errors.is_empty() {
        Status::Invalid
    } else if succeeded(&episode) && !robot_failed {
        Status::Success
    } else {
        Status::Failed
    };
    let code = status.exit_code();
    let primary = episode.primary_failure();
    let subgoal = primary.as_ref().and_then(|(f, _)| {
        episode
            .trace
            .iter()
            .rev()
            .find(|e| e.failure() == Some(f))
            .and_then(|e| e.subgoal.clone())
    });
    let calls = episode
        .trace
        .iter()
        .filter(|e| matches!(e.event, cap_core::trace::EventKind::Call { .. }))
        .count();
    let checkpoints = episode
        .trace
        .iter()
        .filter_map(|e| match &e.event {
            cap_core::trace::EventKind::Checkpoint {
                statement,
                automatic,
                verdicts,
                disagreement,
                ..
            } => Some(CheckpointFacts {
                statement: statement.clone(),
                automatic: *automatic,
                line: e.line,
                subgoal: e.subgoal.clone(),
                answer: verdicts.first().map(|v| v.answer),
                confidence: verdicts.first().map(|v| v.confidence),
                disagreement: *disagreement,
            }),
            _ => None,
        })
        .collect();
    let mut report = ExecReport {
        status,
        exit_code: code,
        episode: Some(EpisodeFacts {
            scene: scene.name.clone(),
            instruction: task_spec.as_ref().map(|t| t.instruction.clone()),
            program_sha256: sha256_hex(source.as_bytes()),
            success: episode.success,
            // Also when the program aborted: "the predicate held, but the program did
            // not end".
            predicate_held: episode.predicate,
            failure: primary.as_ref().map(|(f, line)| FailureFacts {
                kind: f.kind,
                message: f.message.clone(),
                object: f.object.clone(),
                line: *line,
                subgoal: subgoal.clone(),
            }),
            static_errors: episode.static_errors.clone(),
            sim_time_s: episode.world.sim_time_s(),
            steps: episode.world.steps(),
            calls,
            inspector: format!("{:?}", inspect.inspector).to_lowercase(),
            checkpoints,
            wall_time_s: wall.elapsed().as_secs_f64(),
        }),
        robot: robot_facts.clone(),
        ..base
    };
    // The recording is closed (rerun writes its footer) while the run's own outputs
    // are written.
    let finishing = record::finish_with_report(recorder.as_ref(), &report)?;
    let digest = write_outputs(out, &mut report, &episode.trace)?;
    let recorded = record.closed(finishing);

    let status = match status {
        Status::Success => "success",
        Status::Failed => "failed",
        Status::Invalid => "invalid",
    };
    println!(
        "{what} (seed {seed}): {status} — {calls} calls, {:.2} s simulated, {:.3} s wall; trace {} ({})",
        episode.world.sim_time_s(),
        wall.elapsed().as_secs_f64(),
        out.join("trace.jsonl").display(),
        &digest[..12]
    );
    if let Some(r) = &robot_facts {
        print_robot(r);
    }
    if let Some((f, line)) = &primary {
        let at = line.map_or(String::new(), |l| format!(" at line {l}"));
        let sg = subgoal.map_or(String::new(), |s| format!(" (subgoal: {s})"));
        let msg = format!("{}{at}{sg}: {}", f.kind, f.message);
        println!("  failure: {msg}");
        if code == 2 {
            for e in episode.static_errors.iter().skip(1) {
                println!("  also: {e}");
            }
            eprintln!("cap: {}: {msg}", program_path.display());
        } else {
            eprintln!("cap: {what} failed: {msg}");
        }
    }
    // A recording that could not be written fails the command (exit 1 at least).
    Ok(if recorded { code } else { code.max(1) })
}
