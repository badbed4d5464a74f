//! `cap eval`: tasks × seeds × a policy source, in parallel, with results appended as
//! they finish (so an interrupted eval loses nothing and `--resume` continues it),
//! deterministic shards for external schedulers, and a summary in JSON and Markdown.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::report::{EvalSummary, TaskSummary};
use anyhow::{Context, Result};
use cap_agent::{attribute, Agent, Prompts, RunConfig};
use cap_core::scene::Scene;
use cap_llm::Provider;
use cap_script::{run_episode, EpisodeOptions};
use cap_sim::prelude::World;
use serde::{Deserialize, Serialize};

use crate::llm::LlmArgs;
use crate::BadInput;
use recordings::Recordings;
#[cfg(test)]
use recordings::{selects, task_report};

/// A suite file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// Seeds 0..N for every task.
    pub seeds: u64,
    /// Directory of `<task>.rhai` programs, relative to the suite file; absent = ask
    /// a language model (`cap run`'s loop per episode).
    #[serde(default)]
    pub programs: Option<PathBuf>,
    /// Scenes.
    pub scenes: Vec<SuiteScene>,
}

/// One scene of a suite.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteScene {
    /// Scene file, relative to the suite file.
    pub path: PathBuf,
    /// Tasks to run (default: all the scene's tasks).
    #[serde(default)]
    pub tasks: Vec<String>,
}

/// One line of `results.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Result1 {
    /// Scene name.
    pub scene: String,
    /// Task name.
    pub task: String,
    /// Seed.
    pub seed: u64,
    /// Whether the task succeeded.
    pub success: bool,
    /// Failure class (attribution), if it failed.
    pub failure_class: Option<String>,
    /// Failure kind.
    pub failure_kind: Option<String>,
    /// Source line of the failure.
    pub line: Option<u32>,
    /// Attempts used (1 for given programs).
    pub attempts: u32,
    /// LLM tokens in.
    pub tokens_in: u64,
    /// LLM tokens out.
    pub tokens_out: u64,
    /// Simulated seconds.
    pub sim_time_s: f64,
    /// Wall seconds.
    pub wall_s: f64,
}

/// `cap eval`'s arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The suite file.
    #[arg(default_value = "suites/default.toml")]
    pub suite: PathBuf,
    /// Output directory (results.jsonl, summary.json, summary.md).
    #[arg(long, default_value = "runs/eval")]
    pub out: PathBuf,
    /// Record episodes for the rerun viewer: `TASK:SEED` one episode, `TASK` every seed
    /// of a task, `all` every episode (repeatable). Each task's recorded episodes go
    /// into one recording, OUT/recordings/SCENE/TASK.rrd, one after the other in the
    /// order they ran (as `cap run` records its attempts). Off by default.
    #[arg(long = "record", value_name = "TASK[:SEED]|all")]
    pub record: Vec<String>,
    /// Run only slice I of N (0-based), deterministic: episode k belongs to shard k mod N.
    #[arg(long)]
    pub shard: Option<String>,
    /// Continue an interrupted eval: skip episodes already in results.jsonl.
    #[arg(long)]
    pub resume: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Attempts per episode with a model.
    #[arg(long, default_value_t = 5)]
    pub max_attempts: u32,
    /// The language model, for suites without `programs`.
    #[command(flatten)]
    pub llm: LlmArgs,
    /// Plan, then code (as `cap run --plan`).
    #[arg(long)]
    pub plan: bool,
    /// The skill library the model's examples come from; each task is scored
    /// leave-one-out (its own skills, by task and by instruction, are never shown).
    #[command(flatten)]
    pub skills: crate::skills::SkillArgs,
}

fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| BadInput(format!("--shard {s}: expected I/N")))?;
    let (i, n): (usize, usize) = (
        i.trim()
            .parse()
            .map_err(|_| BadInput(format!("--shard {s}: I is not a number")))?,
        n.trim()
            .parse()
            .map_err(|_| BadInput(format!("--shard {s}: N is not a number")))?,
    );
    if n == 0 || i >= n {
        return Err(BadInput(format!("--shard {s}: need 0 <= I < N")).into());
    }
    Ok((i, n))
}

type Key = (String, String, u64);

fn read_results(path: &Path) -> Vec<Result1> {
    std::fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str::<Result1>(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Run a suite.
pub fn run(a: &Args) -> Result<u8> {
    let text = std::fs::read_to_string(&a.suite)
        .map_err(|e| BadInput(format!("{}: {e}", a.suite.display())))?;
    let suite: Suite =
        toml::from_str(&text).map_err(|e| BadInput(format!("{}: {e}", a.suite.display())))?;
    let base = a.suite.parent().unwrap_or(Path::new(".")).to_path_buf();
    let base = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    let shard = a.shard.as_deref().map(parse_shard).transpose()?;
    if suite.seeds == 0 || suite.seeds > 100_000 {
        return Err(BadInput(format!("{}: seeds must be 1..=100000", a.suite.display())).into());
    }

    // The episode list, in a fixed order.
    let mut episodes: Vec<(Arc<Scene>, String, u64)> = Vec::new();
    for s in &suite.scenes {
        // Paths in a suite are relative to the suite file (absolute ones stay as they are).
        let p = base.join(&s.path);
        let scene = Arc::new(Scene::load(&p)?);
        let tasks: Vec<String> = if s.tasks.is_empty() {
            scene.tasks.iter().map(|t| t.name.clone()).collect()
        } else {
            s.tasks.clone()
        };
        for t in &tasks {
            if scene.task(t).is_none() {
                return Err(BadInput(format!("{}: no task `{t}`", p.display())).into());
            }
            for seed in 0..suite.seeds {
                episodes.push((Arc::clone(&scene), t.clone(), seed));
            }
        }
    }
    let total_all = episodes.len();
    for r in &a.record {
        let task = r.split_once(':').map_or(r.as_str(), |(t, _)| t);
        let seed_ok = r
            .split_once(':')
            .is_none_or(|(_, s)| s.parse::<u64>().is_ok_and(|s| s < suite.seeds));
        if r != "all" && (!episodes.iter().any(|(_, t, _)| t == task) || !seed_ok) {
            return Err(BadInput(format!(
                "--record {r}: not a task of the suite (TASK, TASK:SEED with SEED below {}, or all)",
                suite.seeds
            ))
            .into());
        }
    }
    let mut mine: Vec<(Arc<Scene>, String, u64)> = episodes
        .into_iter()
        .enumerate()
        .filter(|(k, _)| shard.is_none_or(|(i, n)| k % n == i))
        .map(|(_, e)| e)
        .collect();

    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let results_path = a.out.join("results.jsonl");
    let done: BTreeSet<Key> = if a.resume {
        read_results(&results_path)
            .into_iter()
            .map(|r| (r.scene, r.task, r.seed))
            .collect()
    } else {
        if results_path.exists() {
            return Err(BadInput(format!(
                "{} exists: pass --resume to continue it, or choose another --out",
                results_path.display()
            ))
            .into());
        }
        BTreeSet::new()
    };
    mine.retain(|(s, t, seed)| !done.contains(&(s.name.clone(), t.clone(), *seed)));

    // The policy source.
    let programs = suite.programs.as_ref().map(|p| base.join(p));
    // A model only for suites without programs; the embedded model's episodes take
    // turns on it (one reply at a time).
    let (provider, local) = match &programs {
        Some(_) => (None, false),
        None => {
            let chosen = a.llm.provider(None)?;
            (Some(chosen.provider), chosen.local)
        }
    };
    let (constrain, repair_temperature) = (a.llm.constrain(local), a.llm.repair_temperature());
    let repair_dry = a.llm.repair_dry(local);
    let library = match &programs {
        Some(_) => None,
        None => a.skills.library()?,
    };

    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&results_path)
        .with_context(|| format!("opening {}", results_path.display()))?;
    let file = Mutex::new(std::io::BufWriter::new(file));
    let threads = a
        .threads
        .unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        })
        .max(1);
    let pb = indicatif::ProgressBar::new(mine.len() as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} episodes, {per_sec}, eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb.set_message(format!(
        "eval ({} of {total_all} in this shard, {} done before)",
        mine.len() + done.len(),
        done.len()
    ));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let recordings = Recordings::new(
        a.out.join("recordings"),
        &a.record,
        &mine,
        threads.min(mine.len()) >= cores,
    );
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let unwritten: Mutex<Vec<cap_viz::VizError>> = Mutex::new(Vec::new());
    // Results that could not be appended to results.jsonl (a full disk).
    let unsaved: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.min(mine.len().max(1)) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((scene, task, seed)) = mine.get(k) else {
                    break;
                };
                let recorder = recordings.recorder(scene, task, *seed);
                let r = recorder.and_then(|recorder| {
                    episode(
                        scene,
                        task,
                        *seed,
                        programs.as_deref(),
                        Model {
                            provider: provider.as_ref().map(|p| p as &dyn Provider),
                            max_attempts: a.max_attempts,
                            constrain,
                            repair_temperature,
                            repair_dry,
                            library: library.as_ref(),
                            examples: a.skills.examples,
                            plan: a.plan,
                        },
                        recorder,
                    )
                });
                // A worker that panicked poisons the locks; the others' results must
                // still be written and counted, so every lock survives poisoning.
                if let Err(e) = recordings.done(scene, task, *seed, r.as_ref().ok()) {
                    relock(&unwritten).push(e);
                }
                match r {
                    Ok(r) => {
                        // One line per episode, flushed: an interrupted eval keeps it.
                        let written = serde_json::to_string(&r)
                            .map_err(std::io::Error::other)
                            .and_then(|line| {
                                let mut f = relock(&file);
                                writeln!(f, "{line}").and_then(|()| f.flush())
                            });
                        if let Err(e) = written {
                            relock(&unsaved).push(format!(
                                "{task} seed {seed}: {}: {e}",
                                results_path.display()
                            ));
                        }
                    }
                    Err(e) => relock(&errors).push(format!("{task} seed {seed}: {e:#}")),
                }
                pb.inc(1);
            });
        }
    });
    pb.finish_and_clear();
    let errors = errors.into_inner().unwrap_or_else(|e| e.into_inner());
    for e in &errors {
        eprintln!("cap: {e}");
    }
    let unwritten = unwritten.into_inner().unwrap_or_else(|e| e.into_inner());
    for e in &unwritten {
        eprintln!("cap: {e}");
    }
    let unsaved = unsaved.into_inner().unwrap_or_else(|e| e.into_inner());
    for e in &unsaved {
        eprintln!("cap: result not saved: {e}");
    }
    let results = read_results(&results_path);
    write_summary(&a.out, &results)?;
    if !errors.is_empty() {
        return Err(BadInput(format!(
            "{} episode(s) could not run; see above",
            errors.len()
        ))
        .into());
    }
    if !unsaved.is_empty() {
        anyhow::bail!(
            "{} result(s) could not be saved to {}; see above",
            unsaved.len(),
            results_path.display()
        );
    }
    if !unwritten.is_empty() {
        anyhow::bail!(
            "{} recording(s) could not be written; see above",
            unwritten.len()
        );
    }
    Ok(0)
}

/// Lock `m`, also after a worker panicked holding it: what it guards (results, error
/// lists) is still whole, and dropping it would lose finished episodes.
fn relock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The language model side of an episode (suites without programs).
struct Model<'a> {
    provider: Option<&'a dyn Provider>,
    max_attempts: u32,
    /// Decoding under the grammar (the embedded model).
    constrain: bool,
    /// Least temperature of repairs.
    repair_temperature: f64,
    /// Repetition penalty of repairs.
    repair_dry: Option<cap_llm::Dry>,
    /// Where the examples come from (none: prompts/examples.md).
    library: Option<&'a cap_agent::skills::Library>,
    /// How many skills a first request shows.
    examples: usize,
    /// Plan, then code.
    plan: bool,
}

fn episode(
    scene: &Arc<Scene>,
    task: &str,
    seed: u64,
    programs: Option<&Path>,
    model: Model<'_>,
    recorder: Option<Arc<cap_viz::Recorder>>,
) -> Result<Result1> {
    let Model {
        provider,
        max_attempts,
        constrain,
        repair_temperature,
        repair_dry,
        library,
        examples,
        plan,
    } = model;
    let t = Instant::now();
    let spec = scene.task(task).cloned().context("task vanished")?;
    let episode_opts = EpisodeOptions {
        recorder: recorder.as_ref().map(|r| {
            cap_viz::EpisodeLog::new(Arc::clone(r), None) as cap_script::run::SharedRecorder
        }),
        label: format!("{task} seed {seed}"),
        ..EpisodeOptions::default()
    };
    let mut r = Result1 {
        scene: scene.name.clone(),
        task: task.to_owned(),
        seed,
        success: false,
        failure_class: None,
        failure_kind: None,
        line: None,
        attempts: 1,
        tokens_in: 0,
        tokens_out: 0,
        sim_time_s: 0.0,
        wall_s: 0.0,
    };
    match (programs, provider) {
        (Some(dir), _) => {
            let path = dir.join(format!("{task}.rhai"));
            let source = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let world = World::new(Arc::clone(scene), seed)?;
            let ep = run_episode(world, &source, Some(&spec), &episode_opts);
            r.success = ep.success == Some(true);
            r.sim_time_s = ep.world.sim_time_s();
            if let Some(at) = attribute(&ep, Some(&spec.success)) {
                r.failure_class = Some(at.class.label());
                r.failure_kind = Some(at.kind.label().to_owned());
                r.line = at.line;
            }
        }
        (None, Some(p)) => {
            // Leave-one-out: the task's own skills are never its examples.
            let mut prompts = Prompts::default();
            let mut functions = Vec::new();
            if let Some((text, _, f)) = library.and_then(|lib| {
                crate::skills::examples_for(
                    lib,
                    scene,
                    &spec.instruction,
                    Some(cap_agent::skills::LeaveOut { task: Some(task) }),
                    examples,
                )
            }) {
                prompts.examples = text;
                functions = f;
            }
            let agent = Agent::new(
                p,
                prompts,
                Arc::clone(scene),
                Some(spec.clone()),
                spec.instruction.clone(),
            )
            .with_functions(functions);
            let cfg = RunConfig {
                seeds: vec![seed],
                max_attempts,
                threads: 1,
                constrain,
                episode: episode_opts.clone(),
                repair_temperature,
                repair_dry,
                plan,
                ..RunConfig::default()
            };
            let rep = agent.run(&cfg, &|_| {});
            r.success = rep.success;
            r.attempts = rep.attempts.len() as u32;
            r.tokens_in = rep.attempts.iter().map(|x| x.tokens_in).sum();
            r.tokens_out = rep.attempts.iter().map(|x| x.tokens_out).sum();
            // The failure of the last program that ran; if none ran, the episode
            // failed before running (every reply rejected by the checker).
            let last_ran = rep
                .attempts
                .iter()
                .rev()
                .flat_map(|x| x.candidates.iter())
                .find_map(|c| c.failure_report.as_ref())
                .filter(|_| !rep.success);
            if let Some(fr) = last_ran {
                r.failure_class = Some(fr.main.class.label());
                r.failure_kind = Some(fr.main.kind.label().to_owned());
                r.line = fr.main.line;
            } else if !rep.success {
                r.failure_class = Some("static".to_owned());
            }
        }
        (None, None) => anyhow::bail!("no policy source"),
    }
    r.wall_s = t.elapsed().as_secs_f64();
    Ok(r)
}

/// Wilson score interval (95%) for k successes of n.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n, z) = (k as f64, n as f64, 1.96f64);
    let p = k / n;
    let d = 1.0 + z * z / n;
    let c = (p + z * z / (2.0 * n)) / d;
    let h = z * ((p * (1.0 - p) + z * z / (4.0 * n)) / n).sqrt() / d;
    ((c - h).max(0.0), (c + h).min(1.0))
}

fn write_summary(out: &Path, results: &[Result1]) -> Result<()> {
    // Later lines win (a resumed eval never duplicates, a merge may).
    let mut unique: BTreeMap<Key, &Result1> = BTreeMap::new();
    for r in results {
        unique.insert((r.scene.clone(), r.task.clone(), r.seed), r);
    }
    let mut per: BTreeMap<(String, String), Vec<&Result1>> = BTreeMap::new();
    for r in unique.values() {
        per.entry((r.scene.clone(), r.task.clone()))
            .or_default()
            .push(r);
    }
    let mut tasks = Vec::new();
    let mut md = String::from("| scene | task | episodes | success | 95% CI | mean attempts to success | failures by class | tokens in/out | wall s |\n|---|---|---|---|---|---|---|---|---|\n");
    for ((scene, task), rs) in &per {
        let n = rs.len() as u64;
        let k = rs.iter().filter(|r| r.success).count() as u64;
        let (lo, hi) = wilson(k, n);
        let ok: Vec<_> = rs.iter().filter(|r| r.success).collect();
        let mean_attempts = if ok.is_empty() {
            None
        } else {
            Some(ok.iter().map(|r| f64::from(r.attempts)).sum::<f64>() / ok.len() as f64)
        };
        let mut hist: BTreeMap<String, u64> = BTreeMap::new();
        for r in rs.iter().filter(|r| !r.success) {
            *hist
                .entry(r.failure_class.clone().unwrap_or_else(|| "unknown".into()))
                .or_default() += 1;
        }
        let (ti, to): (u64, u64) = (
            rs.iter().map(|r| r.tokens_in).sum(),
            rs.iter().map(|r| r.tokens_out).sum(),
        );
        let wall: f64 = rs.iter().map(|r| r.wall_s).sum();
        md.push_str(&format!(
            "| {scene} | {task} | {n} | {:.0}% | {:.0}-{:.0}% | {} | {} | {ti}/{to} | {wall:.2} |\n",
            100.0 * k as f64 / n as f64,
            lo * 100.0,
            hi * 100.0,
            mean_attempts.map_or("-".into(), |m| format!("{m:.2}")),
            if hist.is_empty() { "-".into() } else { hist.iter().map(|(c, v)| format!("{c} {v}")).collect::<Vec<_>>().join(", ") }
        ));
        tasks.push(TaskSummary {
            scene: scene.clone(),
            task: task.clone(),
            episodes: n,
            successes: k,
            success_rate: k as f64 / n as f64,
            ci95: [lo, hi],
            mean_attempts_to_success: mean_attempts,
            failure_classes: hist,
            tokens_in: ti,
            tokens_out: to,
            wall_s: wall,
        });
    }
    let n = unique.len() as u64;
    let k = unique.values().filter(|r| r.success).count() as u64;
    let (lo, hi) = wilson(k, n);
    md.push_str(&format!(
        "\nAll: {k}/{n} episodes succeeded ({:.1}%, 95% CI {:.1}-{:.1}%).\n",
        100.0 * k as f64 / n.max(1) as f64,
        lo * 100.0,
        hi * 100.0
    ));
    let summary = EvalSummary {
        episodes: n,
        successes: k,
        ci95: [lo, hi],
        tasks,
    };
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_vec_pretty(&summary)?,
    )?;
    std::fs::write(out.join("summary.md"), &md)?;
    print!("{md}");
    Ok(())
}

/// `cap eval merge`: join shards' results into one directory and summarise.
pub fn merge(out: &Path, shards: &[PathBuf]) -> Result<u8> {
    let mut all = Vec::new();
    for d in shards {
        let p = d.join("results.jsonl");
        if !p.is_file() {
            return Err(BadInput(format!("{}: no results.jsonl", d.display())).into());
        }
        all.extend(read_results(&p));
    }
    std::fs::create_dir_all(out)?;
    let mut seen = BTreeSet::new();
    let mut f = std::io::BufWriter::new(std::fs::File::create(out.join("results.jsonl"))?);
    let mut kept = Vec::new();
    for r in all {
        if seen.insert((r.scene.clone(), r.task.clone(), r.seed)) {
            writeln!(f, "{}", serde_json::to_string(&r)?)?;
            kept.push(r);
        }
    }
    f.flush()?;
    write_summary(out, &kept)?;
    Ok(0)
}

mod recordings;
#[cfg(test)]
mod tests;
