//! `cap skills`: the verified skill library (list, show, find, add, remove), and the
//! few-shot examples `cap run` and `cap eval` take from it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use cap_agent::skills::{
    self, id_for, kinds_of, Added, Helper, LeaveOut, Library, Origin, Query, Skill,
};
use cap_core::scene::Scene;
use cap_script::run::{run_episode, EpisodeOptions};
use cap_sim::prelude::World;
use serde::Serialize;

use crate::BadInput;

/// How many skills a first request shows by default.
pub const EXAMPLES: usize = 3;

/// The library's user directory: `DATA/skills`.
pub fn default_dir() -> PathBuf {
    cap_core::paths::data_dir().join("skills")
}

/// The skill library as `cap run` and `cap eval` use it.
#[derive(clap::Args, Debug, Clone)]
pub struct SkillArgs {
    /// The skill library's directory (default: DATA/skills, beside the shipped skills).
    #[arg(long, value_name = "DIR")]
    pub skills_dir: Option<PathBuf>,
    /// Use the embedded prompts/examples.md as the examples, not the library.
    #[arg(long)]
    pub no_skills: bool,
    /// How many of the most similar skills the first request shows.
    #[arg(long, default_value_t = EXAMPLES, value_name = "N")]
    pub examples: usize,
}

impl SkillArgs {
    /// The directory skills are read from and added to.
    pub fn dir(&self) -> PathBuf {
        self.skills_dir.clone().unwrap_or_else(default_dir)
    }

    /// The library (shipped + directory), or none with `--no-skills`.
    pub fn library(&self) -> Result<Option<Library>> {
        if self.no_skills {
            return Ok(None);
        }
        Ok(Some(
            Library::open(&self.dir()).map_err(|e| BadInput(format!("skill library: {e}")))?,
        ))
    }
}

/// A retrieved skill, as reports list it.
#[derive(Debug, Clone, Serialize)]
pub struct Retrieved {
    /// Its id.
    pub id: String,
    /// Its BM25 score.
    pub score: f32,
}

/// The examples for a first request from `lib`, the skills they came from, and the
/// library functions. `None` when nothing in the library shares a word with the
/// instruction (then prompts/examples.md serves).
pub fn examples_for(
    lib: &Library,
    scene: &Scene,
    instruction: &str,
    leave_out: Option<LeaveOut<'_>>,
    k: usize,
) -> Option<(String, Vec<Retrieved>, Vec<Helper>)> {
    let kinds = kinds_of(scene);
    let ranked = lib.retrieve(
        &Query {
            instruction,
            kinds: &kinds,
            leave_out,
        },
        k,
    );
    if ranked.is_empty() {
        return None;
    }
    let functions = lib.functions();
    let shown: Vec<&Skill> = ranked.iter().map(|r| r.skill).collect();
    let text = skills::examples_text(&shown, &functions);
    let ids = ranked
        .iter()
        .map(|r| Retrieved {
            id: r.skill.id.clone(),
            score: (r.score * 1000.0).round() / 1000.0,
        })
        .collect();
    Some((text, ids, functions))
}

/// `cap skills`'s actions.
#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Every skill: id, origin, success over seeds, object kinds, instruction.
    List,
    /// One skill in full: its facts, helpers and program.
    Show {
        /// The skill's id.
        id: String,
    },
    /// The skills most like an instruction, as `cap run` would retrieve them.
    Find {
        /// The instruction.
        instruction: String,
        /// The scene whose object kinds join the query.
        #[arg(long)]
        scene: Option<PathBuf>,
        /// How many.
        #[arg(short, default_value_t = EXAMPLES)]
        k: usize,
    },
    /// Run a program on a scene's seeds and add it if it succeeds often enough.
    Add {
        /// The program (rhai).
        program: PathBuf,
        /// The scene it is verified on.
        #[arg(long)]
        scene: PathBuf,
        /// The scene task whose predicate judges it (default: the task whose instruction
        /// is --instruction; without one, success = no failure and no false checkpoint).
        #[arg(long)]
        task: Option<String>,
        /// The instruction it carries out (default: the task's).
        #[arg(long)]
        instruction: Option<String>,
        /// Seeds 0..N it must run on.
        #[arg(long, default_value_t = 3)]
        seeds: u64,
        /// The success rate it must reach.
        #[arg(long, default_value_t = 0.5)]
        threshold: f64,
        /// Its id (default: from the instruction and the program).
        #[arg(long)]
        id: Option<String>,
    },
    /// Delete a skill from the library's directory (shipped skills stay).
    Remove {
        /// The skill's id.
        id: String,
    },
}

/// `cap skills [--skills-dir DIR] ACTION`.
pub fn run(action: &Action, dir: Option<&Path>) -> Result<u8> {
    let dir = dir.map_or_else(default_dir, Path::to_path_buf);
    let lib = Library::open(&dir).map_err(|e| BadInput(format!("skill library: {e}")))?;
    match action {
        Action::List => {
            println!(
                "{} skills ({} shipped; the rest in {})",
                lib.skills().len(),
                lib.skills()
                    .iter()
                    .filter(|s| s.origin == Origin::Shipped)
                    .count(),
                dir.display()
            );
            for s in lib.skills() {
                println!(
                    "{:<44} {:<8} {:>4.0}% of {:<3} [{}] {}",
                    s.id,
                    s.origin.to_string(),
                    s.success_rate * 100.0,
                    s.seeds,
                    s.kinds.join(", "),
                    s.instruction
                );
            }
            let f = lib.functions();
            if !f.is_empty() {
                let names: Vec<String> = f.iter().map(Helper::signature).collect();
                println!("library functions: {}", names.join(", "));
            }
            Ok(0)
        }
        Action::Show { id } => {
            let s = lib.get(id).ok_or_else(|| {
                BadInput(skills::SkillError::Unknown { id: id.clone() }.to_string())
            })?;
            println!("id:          {}", s.id);
            println!("instruction: {}", s.instruction);
            println!("origin:      {}", s.origin);
            println!("scene:       {}", s.scene);
            if let Some(t) = &s.task {
                println!("task:        {t}");
            }
            println!(
                "verified:    {:.0}% of {} seeds",
                s.success_rate * 100.0,
                s.seeds
            );
            if let Some(m) = &s.model {
                println!("model:       {m}");
            }
            println!("kinds:       {}", s.kinds.join(", "));
            let h: Vec<String> = s.helpers().iter().map(Helper::signature).collect();
            if !h.is_empty() {
                println!("helpers:     {}", h.join(", "));
            }
            println!("\n{}", s.program);
            Ok(0)
        }
        Action::Find {
            instruction,
            scene,
            k,
        } => {
            let kinds = match scene {
                Some(p) => kinds_of(&Scene::load(p).map_err(|e| BadInput(e.to_string()))?),
                None => Vec::new(),
            };
            let ranked = lib.retrieve(
                &Query {
                    instruction,
                    kinds: &kinds,
                    leave_out: None,
                },
                *k,
            );
            if ranked.is_empty() {
                println!("no skill shares a word with the instruction; prompts/examples.md serves");
            }
            for r in ranked {
                println!(
                    "{:>7.3}  {:<44} {}",
                    r.score, r.skill.id, r.skill.instruction
                );
            }
            Ok(0)
        }
        Action::Add {
            program,
            scene,
            task,
            instruction,
            seeds,
            threshold,
            id,
        } => add(
            &lib,
            &dir,
            &AddArgs {
                program,
                scene,
                task: task.as_deref(),
                instruction: instruction.as_deref(),
                seeds: *seeds,
                threshold: *threshold,
                id: id.as_deref(),
            },
        ),
        Action::Remove { id } => {
            let path = lib.remove(&dir, id).map_err(|e| BadInput(e.to_string()))?;
            println!("removed {id} ({})", path.display());
            Ok(0)
        }
    }
}

struct AddArgs<'a> {
    program: &'a Path,
    scene: &'a Path,
    task: Option<&'a str>,
    instruction: Option<&'a str>,
    seeds: u64,
    threshold: f64,
    id: Option<&'a str>,
}

fn add(lib: &Library, dir: &Path, a: &AddArgs<'_>) -> Result<u8> {
    if a.seeds == 0 || a.seeds > 1000 {
        return Err(BadInput(format!("--seeds {} must be in 1..=1000", a.seeds)).into());
    }
    if !(0.0..=1.0).contains(&a.threshold) {
        return Err(BadInput(format!("--threshold {} is outside [0, 1]", a.threshold)).into());
    }
    let scene = Arc::new(Scene::load(a.scene).map_err(|e| BadInput(e.to_string()))?);
    let source = std::fs::read_to_string(a.program)
        .map_err(|e| BadInput(format!("{}: {e}", a.program.display())))?;
    let words = |s: &str| cap_core::vocabulary::words(s);
    let task = match (a.task, a.instruction) {
        (Some(t), _) => Some(
            scene
                .task(t)
                .cloned()
                .ok_or_else(|| BadInput(format!("{}: no task `{t}`", a.scene.display())))?,
        ),
        (None, Some(i)) => scene
            .tasks
            .iter()
            .find(|t| words(&t.instruction) == words(i))
            .cloned(),
        (None, None) => {
            return Err(BadInput("give --instruction or --task".into()).into());
        }
    };
    let instruction = a
        .instruction
        .map(str::to_owned)
        .or_else(|| task.as_ref().map(|t| t.instruction.clone()))
        .unwrap_or_default();
    // Checkpoints judged on the simulator's state: without a task, a false one fails.
    let opts = EpisodeOptions {
        monitor: Some(Arc::new(cap_vision::CheckpointMonitor::new(
            Box::new(cap_vision::GeometricInspector),
            false,
        )) as cap_script::SharedMonitor),
        ..EpisodeOptions::default()
    };
    let pb = indicatif::ProgressBar::new(a.seeds);
    let mut ok = 0u64;
    let mut first_failure = None;
    for seed in 0..a.seeds {
        pb.set_message(format!("seed {seed}"));
        let world = World::new(Arc::clone(&scene), seed)
            .with_context(|| format!("building {} at seed {seed}", a.scene.display()))?;
        let e = run_episode(world, &source, task.as_ref(), &opts);
        if let Some(se) = e.static_errors.first() {
            pb.finish_and_clear();
            return Err(BadInput(format!("{}: {se}", a.program.display())).into());
        }
        let success = match task {
            Some(_) => e.success == Some(true),
            None => e.abort.is_none() && !any_false_checkpoint(&e.trace),
        };
        if success {
            ok += 1;
        } else if first_failure.is_none() {
            first_failure = Some((seed, e.primary_failure()));
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let rate = ok as f64 / a.seeds as f64;
    if rate < a.threshold {
        let why = first_failure.map_or_else(String::new, |(seed, f)| match f {
            Some((f, line)) => format!(
                "; seed {seed}: {}{}",
                f,
                line.map_or_else(String::new, |l| format!(" (line {l})"))
            ),
            None => format!("; seed {seed}: the task's predicate is false"),
        });
        eprintln!(
            "cap: not added: {ok} of {} seeds succeeded ({:.0}%, below --threshold {:.0}%){why}",
            a.seeds,
            rate * 100.0,
            a.threshold * 100.0
        );
        return Ok(1);
    }
    let skill = Skill {
        id: a
            .id
            .map_or_else(|| id_for(&instruction, &source), str::to_owned),
        instruction,
        kinds: kinds_of(&scene),
        origin: Origin::Added,
        scene: a.scene.display().to_string(),
        task: task.map(|t| t.name),
        success_rate: rate,
        seeds: a.seeds,
        model: None,
        program: source.trim().to_owned(),
    };
    match lib.add(dir, &skill).map_err(|e| BadInput(e.to_string()))? {
        Added::New(p) => println!(
            "added {} ({ok} of {} seeds succeeded): {}",
            skill.id,
            a.seeds,
            p.display()
        ),
        Added::Known(id) => println!("already in the library as {id}"),
    }
    Ok(0)
}

fn any_false_checkpoint(trace: &[cap_core::trace::TraceEvent]) -> bool {
    trace.iter().any(|e| match &e.event {
        cap_core::trace::EventKind::Checkpoint { verdicts, .. } => verdicts
            .first()
            .is_some_and(|v| v.answer == cap_core::trace::Answer::DoesNotHold),
        _ => false,
    })
}

/// Add `skill` (a program a `cap run` verified) to the library in `dir`, unless a skill
/// for the same instruction is verified at least as well; what happened, in words.
pub fn learn(dir: &Path, skill: &Skill) -> Result<String, skills::SkillError> {
    let lib = Library::open(dir)?;
    if let Some(s) = lib.covering(skill) {
        return Ok(format!(
            "not added to the skill library: {} already does this instruction ({:.0}% of {} seeds)",
            s.id,
            s.success_rate * 100.0,
            s.seeds
        ));
    }
    Ok(match lib.add(dir, skill)? {
        Added::New(p) => format!(
            "added to the skill library as {} ({})",
            skill.id,
            p.display()
        ),
        Added::Known(id) => format!("already in the skill library as {id}"),
    })
}
