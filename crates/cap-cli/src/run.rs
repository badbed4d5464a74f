//! `cap run`: the HyCodePolicy loop from the command line.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cap_agent::agent::Progress;
use cap_agent::{Agent, Prompts, RunConfig};
use cap_core::scene::Scene;
use cap_llm::local::{resolve_model, LocalConfig, LocalEvent, LocalProvider};
use cap_llm::{CachedProvider, OpenAiConfig, OpenAiProvider, Provider};
use serde_json::json;

use crate::InspectArgs;

/// Bad input (exit 2).
#[derive(Debug)]
pub struct Bad(pub String);
impl std::fmt::Display for Bad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Bad {}

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
    /// OpenAI-compatible base URL, up to /v1.
    #[arg(long, env = "CAP_LLM_URL")]
    pub base_url: Option<String>,
    /// Model id.
    #[arg(long, env = "CAP_LLM_MODEL")]
    pub model: Option<String>,
    /// Response cache directory (default: the data directory's llm-cache).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Answer only from the cache; fail fast on a miss.
    #[arg(long)]
    pub replay_only: bool,
    /// Prompt templates directory (default: the embedded prompts/).
    #[arg(long)]
    pub prompts: Option<PathBuf>,
    /// The embedded model used when no endpoint is given: `qwen2.5-coder-0.5b` (the
    /// default), `smollm2-135m`, or a path to a GGUF file.
    #[arg(long, env = "CAP_LLM_LOCAL")]
    pub llm_model: Option<String>,
    /// CPU threads for the embedded model (default: all cores).
    #[arg(long)]
    pub llm_threads: Option<u32>,
    /// Context window of the embedded model, tokens.
    #[arg(long, default_value_t = 4096)]
    pub llm_context: u32,
    /// Let the embedded model write anything (no grammar limiting programs to the API
    /// and the scene's object names).
    #[arg(long)]
    pub no_constrain: bool,
    /// Least sampling temperature for repairs (default: 0.7 with the embedded model,
    /// 0 with an endpoint).
    #[arg(long)]
    pub repair_temperature: Option<f64>,
    /// HTTP timeout per request, seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout_s: u64,
    /// Output directory (report.json, final.rhai, attempts/).
    #[arg(long, default_value = "runs/run")]
    pub out: PathBuf,
    #[command(flatten)]
    pub inspect: InspectArgs,
    #[command(flatten)]
    pub record: crate::record::RecordArgs,
}

fn norm(s: &str) -> String {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A line above the spinner, or on stderr when there is no terminal to draw it on.
fn say(pb: &indicatif::ProgressBar, line: String) {
    if pb.is_hidden() {
        eprintln!("{line}");
    } else {
        pb.println(line);
    }
}

/// Load the embedded model (`spec`: a known name or a GGUF path; none: the default);
/// with a progress bar, it shows loading and streams its tokens there.
pub fn load_local(
    spec: Option<&str>,
    threads: Option<u32>,
    context: u32,
    pb: Option<&indicatif::ProgressBar>,
) -> Result<LocalProvider> {
    let (path, known) = resolve_model(spec).map_err(|e| Bad(e.to_string()))?;
    let mut cfg = LocalConfig::new(path, known);
    if let Some(t) = threads {
        cfg.threads = t.max(1);
    }
    cfg.context = context.max(256);
    let p = LocalProvider::load(cfg).map_err(|e| Bad(e.to_string()))?;
    let Some(pb) = pb else {
        return Ok(p);
    };
    let bar = pb.clone();
    let p = p.with_progress(move |ev| match ev {
        LocalEvent::Prompt { tokens, seconds } => bar.set_message(format!(
            "read the prompt: {tokens} tokens in {seconds:.1} s; writing…"
        )),
        LocalEvent::Token { count, seconds, .. } => bar.set_message(format!(
            "writing: {count} tokens, {:.1} tokens/s",
            *count as f64 / seconds.max(1e-9)
        )),
        LocalEvent::Done(s) => say(
            &bar,
            format!(
                "  model: {} prompt tokens ({} already in the cache) read at {:.0}/s, {} tokens written at {:.1}/s{}",
                s.prompt_tokens,
                s.prompt_reused,
                s.prompt_rate(),
                s.tokens,
                s.rate(),
                if s.grammar_redraws > 0 {
                    format!(", {} draws redone under the grammar", s.grammar_redraws)
                } else {
                    String::new()
                }
            ),
        ),
    });
    say(pb, format!("model: {} (embedded, llama.cpp)", p.name()));
    Ok(p)
}

pub fn run(a: &Args) -> Result<u8> {
    let scene = Arc::new(Scene::load(&a.scene)?);
    let task = match (&a.task, &a.instruction) {
        (Some(name), _) => Some(scene.task(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = scene.tasks.iter().map(|t| t.name.as_str()).collect();
            Bad(format!(
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
        (None, None) => return Err(Bad("give an instruction or --task".into()).into()),
    };
    let instruction = a
        .instruction
        .clone()
        .or_else(|| task.as_ref().map(|t| t.instruction.clone()))
        .unwrap_or_default();
    if !(0.0..=1.0).contains(&a.threshold) {
        return Err(Bad(format!("--threshold {} is outside [0, 1]", a.threshold)).into());
    }
    if a.seeds == 0 || a.seeds > 10_000 {
        return Err(Bad(format!("--seeds {} must be in 1..=10000", a.seeds)).into());
    }
    let prompts = match &a.prompts {
        Some(d) => {
            Prompts::from_dir(d).map_err(|e| Bad(format!("--prompts {}: {e}", d.display())))?
        }
        None => Prompts::default(),
    };

    let pb = indicatif::ProgressBar::new_spinner();
    pb.enable_steady_tick(Duration::from_millis(120));
    let (inner, id, local): (Option<Box<dyn Provider>>, String, bool) =
        match (&a.base_url, &a.model) {
            (Some(url), Some(model)) => {
                let mut c = OpenAiConfig::new(url, model);
                c.timeout = Duration::from_secs(a.timeout_s.max(1));
                (
                    Some(Box::new(OpenAiProvider::new(c)?)),
                    format!("model {model}"),
                    false,
                )
            }
            (_, Some(model)) if a.replay_only => (None, format!("model {model}"), false),
            (Some(_), None) | (None, Some(_)) => {
                return Err(Bad(
                    "--base-url and --model go together (or CAP_LLM_URL and CAP_LLM_MODEL)".into(),
                )
                .into())
            }
            (None, None) => {
                pb.set_message("loading the embedded model");
                let p = load_local(
                    a.llm_model.as_deref(),
                    a.llm_threads,
                    a.llm_context,
                    Some(&pb),
                )?;
                let id = p.id();
                (Some(Box::new(p)), id, true)
            }
        };
    // The cache key names the model, not the endpoint: the same model behind another
    // URL (or none, when replaying) answers from the same cache.
    let cache_dir = a
        .cache
        .clone()
        .unwrap_or_else(|| cap_core::paths::data_dir().join("llm-cache"));
    let provider = CachedProvider::new(inner, id, cache_dir.clone(), a.replay_only);

    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let monitor = a.inspect.monitor(&a.out).map_err(|e| Bad(e.to_string()))?;
    let recorder = a
        .record
        .recorder(&format!(
            "cap run {}",
            task.as_ref()
                .map_or(instruction.as_str(), |t| t.name.as_str())
        ))
        .map_err(|e| Bad(e.to_string()))?;
    let cfg = RunConfig {
        seeds: (0..a.seeds).collect(),
        max_attempts: a.max_attempts.max(1),
        threshold: a.threshold,
        samples: a.samples.max(1),
        constrain: local && !a.no_constrain,
        repair_temperature: a
            .repair_temperature
            .unwrap_or(if local { 0.7 } else { 0.0 })
            .clamp(0.0, 2.0),
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
    );
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
    let mut full = serde_json::to_value(&report)?;
    full["scene_path"] = json!(a.scene.display().to_string());
    full["seeds"] = json!(a.seeds);
    full["threshold"] = json!(a.threshold);
    full["cache"] = json!(cache_dir.display().to_string());
    full["wall_time_s"] = json!(wall.elapsed().as_secs_f64());
    full["tokens_in"] = json!(report.attempts.iter().map(|x| x.tokens_in).sum::<u64>());
    full["tokens_out"] = json!(report.attempts.iter().map(|x| x.tokens_out).sum::<u64>());
    // The recording is closed (rerun writes its footer) while the report is written.
    let finishing = crate::record::finish_with_report(recorder.as_ref(), &full)?;
    std::fs::write(a.out.join("report.json"), serde_json::to_vec_pretty(&full)?)?;
    let recorded = a.record.closed(finishing);

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
        // A recording that could not be written fails the command.
        Ok(if recorded { 0 } else { 1 })
    } else {
        eprintln!("cap: {}", report.stopped);
        Ok(1)
    }
}
