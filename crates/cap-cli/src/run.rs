//! `cap run`: the HyCodePolicy loop from the command line.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cap_agent::agent::Progress;
use cap_agent::{Agent, Prompts, RunConfig};
use cap_core::scene::Scene;

use crate::llm::{say, LlmArgs};
use crate::{BadInput, InspectArgs};

/// `cap run`'s arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The scene (TOML).
    pub scene: PathBuf,
    /// The instruction (default: the task's instruction).
    pub instruction: Option<String>,
    /// Task whose success predicate decides success (default: the scene task whose
    /// instruction matches; without one, success = no failure and no false checkpoint).
    #[arg(long)]
    pub task: Option<String>,
    /// Attempts (first generation + repairs).
    #[arg(long, default_value_t = 5)]
    pub max_attempts: u32,
    /// Number of seeds each program runs on (0..N).
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// Accept a program once its success rate over the seeds reaches this.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Candidates sampled per attempt (best-of-N, each run on its own worlds).
    #[arg(long, default_value_t = 1)]
    pub samples: u32,
    /// Prompt templates directory (default: the embedded prompts/).
    #[arg(long)]
    pub prompts: Option<PathBuf>,
    #[command(flatten)]
    pub llm: LlmArgs,
    /// Output directory (report.json, final.rhai, attempts/).
    #[arg(long, default_value = "runs/run")]
    pub out: PathBuf,
    #[command(flatten)]
    pub inspect: InspectArgs,
    #[command(flatten)]
    pub record: crate::record::RecordArgs,
    #[command(flatten)]
    pub skills: crate::skills::SkillArgs,
    /// Plan, then code: ask for the steps first (no code), then for the program with
    /// them as comments.
    #[arg(long)]
    pub plan: bool,
    /// Do not add the program that succeeded to the skill library.
    #[arg(long)]
    pub no_learn: bool,
    /// Leave the task's own skills out of the examples (as `cap eval` scores a task):
    /// those of the same task, and those with the same instruction.
    #[arg(long)]
    pub leave_one_out: bool,
    /// Then run the program that succeeded on this robot (`cap exec --robot`; its
    /// report goes to OUT/robot/).
    #[command(flatten)]
    pub robot: crate::robot_link::RobotArgs,
}

fn norm(s: &str) -> String {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(a: &Args) -> Result<u8> {
    let scene = Arc::new(Scene::load(&a.scene)?);
    let task = match (&a.task, &a.instruction) {
        (Some(name), _) => Some(scene.task(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = scene.tasks.iter().map(|t| t.name.as_str()).collect();
            BadInput(format!(
                "{}: no task `{name}`; tasks: {}",
                a.scene.display(),
                known.join(", ")
            ))
        })?),
        (None, Some(i)) => scene
            .tasks
            .iter()
            .find(|t| norm(&t.instruction) == norm(i))
            .cloned(),
        (None, None) => return Err(BadInput("give an instruction or --task".into()).into()),
    };
    let instruction = a
        .instruction
        .clone()
        .or_else(|| task.as_ref().map(|t| t.instruction.clone()))
        .unwrap_or_default();
    if !(0.0..=1.0).contains(&a.threshold) {
        return Err(BadInput(format!("--threshold {} is outside [0, 1]", a.threshold)).into());
    }
    if a.seeds == 0 || a.seeds > 10_000 {
        return Err(BadInput(format!("--seeds {} must be in 1..=10000", a.seeds)).into());
    }
    let mut prompts = match &a.prompts {
        Some(d) => {
            Prompts::from_dir(d).map_err(|e| BadInput(format!("--prompts {}: {e}", d.display())))?
        }
        None => Prompts::default(),
    };

    // The few-shot examples: the most similar verified skills (a --prompts directory
    // with its own examples.md keeps those).
    let library = a.skills.library()?;
    let own_examples = a
        .prompts
        .as_ref()
        .is_some_and(|d| d.join("examples.md").is_file());
    let (mut retrieved, mut functions) = (Vec::new(), Vec::new());
    if let (Some(lib), false) = (&library, own_examples) {
        let leave_out = a.leave_one_out.then(|| cap_agent::skills::LeaveOut {
            task: task.as_ref().map(|t| t.name.as_str()),
        });
        if let Some((text, ids, f)) =
            crate::skills::examples_for(lib, &scene, &instruction, leave_out, a.skills.examples)
        {
            prompts.examples = text;
            retrieved = ids;
            functions = f;
        }
    }

    let pb = indicatif::ProgressBar::new_spinner();
    pb.enable_steady_tick(Duration::from_millis(120));
    let chosen = a.llm.provider(Some(&pb))?;
    let (provider, local, cache_dir) = (chosen.provider, chosen.local, chosen.cache_dir);

    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let monitor = a
        .inspect
        .monitor(&a.out)
        .map_err(|e| BadInput(e.to_string()))?;
    let recorder = a
        .record
        .recorder(&format!(
            "cap run {}",
            task.as_ref()
                .map_or(instruction.as_str(), |t| t.name.as_str())
        ))
        .map_err(|e| BadInput(e.to_string()))?;
    let cfg = RunConfig {
        seeds: (0..a.seeds).collect(),
        max_attempts: a.max_attempts.max(1),
        threshold: a.threshold,
        samples: a.samples.max(1),
        constrain: a.llm.constrain(local),
        repair_temperature: a.llm.repair_temperature(),
        repair_dry: a.llm.repair_dry(local),
        plan: a.plan,
        episode: cap_script::EpisodeOptions {
            monitor,
            recorder: recorder.as_ref().map(|r| {
                cap_viz::EpisodeLog::new(Arc::clone(r), Some(a.out.clone()))
                    as cap_script::run::SharedRecorder
            }),
            ..Default::default()
        },
        ..RunConfig::default()
    };
    let agent = Agent::new(
        &provider,
        prompts,
        Arc::clone(&scene),
        task.clone(),
        instruction.clone(),
    )
    .with_functions(functions);
    let wall = Instant::now();
    let report = agent.run(&cfg, &|p| match p {
        Progress::Asking { attempt, what } => {
            pb.set_message(format!("attempt {attempt}: asking the model ({what})"))
        }
        Progress::Attempt {
            attempt,
            success_rate,
            summary,
        } => {
            say(
                &pb,
                format!(
                    "attempt {attempt}: {:.0}% of {} seeds — {summary}",
                    success_rate * 100.0,
                    a.seeds
                ),
            );
        }
    });
    pb.finish_and_clear();

    // Written whatever happened.
    let attempts_dir = a.out.join("attempts");
    std::fs::create_dir_all(&attempts_dir)?;
    for at in &report.attempts {
        for c in &at.candidates {
            std::fs::write(
                attempts_dir.join(format!("{:02}-{}.rhai", at.attempt, c.sample)),
                &c.program,
            )?;
        }
    }
    if let Some(p) = &report.final_program {
        std::fs::write(a.out.join("final.rhai"), p)?;
    }
    let full = crate::report::RunFile {
        report: &report,
        scene_path: a.scene.display().to_string(),
        seeds: a.seeds,
        threshold: a.threshold,
        cache: cache_dir.display().to_string(),
        wall_time_s: wall.elapsed().as_secs_f64(),
        tokens_in: report.attempts.iter().map(|x| x.tokens_in).sum(),
        tokens_out: report.attempts.iter().map(|x| x.tokens_out).sum(),
        skills: &retrieved,
    };
    // The recording is closed (rerun writes its footer) while the report is written.
    let finishing = crate::record::finish_with_report(recorder.as_ref(), &full)?;
    std::fs::write(a.out.join("report.json"), serde_json::to_vec_pretty(&full)?)?;
    let recorded = a.record.closed(finishing);
    // A verified program joins the library (after its report is safe on disk).
    if let (true, false, Some(_), Some(p)) =
        (report.success, a.no_learn, &library, &report.final_program)
    {
        let skill = cap_agent::skills::Skill {
            id: cap_agent::skills::id_for(&instruction, p),
            instruction: instruction.clone(),
            kinds: cap_agent::skills::kinds_of(&scene),
            origin: cap_agent::skills::Origin::Run,
            scene: a.scene.display().to_string(),
            task: task.as_ref().map(|t| t.name.clone()),
            success_rate: report.best_success_rate,
            seeds: a.seeds,
            model: Some(cap_llm::Provider::id(&provider)),
            program: p.trim().to_owned(),
        };
        match crate::skills::learn(&a.skills.dir(), &skill) {
            Ok(said) => eprintln!("cap: {said}"),
            Err(e) => eprintln!("cap: the program was not added to the skill library: {e}"),
        }
    }

    println!(
        "{}: {} after {} attempt(s); best success rate {:.0}% over {} seed(s); {}",
        task.as_ref()
            .map_or(instruction.as_str(), |t| t.name.as_str()),
        if report.success { "success" } else { "failed" },
        report.attempts.len(),
        report.best_success_rate * 100.0,
        a.seeds,
        report.stopped
    );
    if let Some(p) = &report.final_program {
        println!(
            "final program ({}):\n{p}",
            a.out.join("final.rhai").display()
        );
    }
    if report.success {
        if a.robot.robot.is_some() {
            // The program that succeeded in simulation, on the robot (sim first again,
            // on the world the robot reports).
            let code = crate::exec::run(
                &a.scene,
                &a.out.join("final.rhai"),
                task.as_ref().map(|t| t.name.as_str()),
                0,
                &a.out.join("robot"),
                &crate::exec::With {
                    inspect: &a.inspect,
                    record: &crate::record::RecordArgs::default(),
                    robot: &a.robot,
                },
            )?;
            return Ok(if recorded { code } else { code.max(1) });
        }
        // A recording that could not be written fails the command.
        Ok(if recorded { 0 } else { 1 })
    } else {
        if let Some(url) = &a.robot.robot {
            eprintln!("cap: the robot at {url} was not moved: no program succeeded in simulation");
        }
        eprintln!("cap: {}", report.stopped);
        Ok(1)
    }
}
