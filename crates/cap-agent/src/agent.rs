//! The repair loop.

use std::sync::Arc;
use std::time::Instant;

use cap_core::failure::FailureKind;
use cap_core::scene::{Scene, TaskSpec};
use cap_core::trace::{Answer, EventKind};
use cap_llm::{ChatRequest, LlmError, Message, Provider};
use cap_script::{run_episode, EpisodeOptions, StaticError};
use cap_sim::prelude::*;

use crate::attribution::{attribute, report, Attribution};
use crate::grammar::program_grammar;
use crate::prompt::{extract_program, fill, numbered, scene_facts, Prompts};
pub use crate::report::{AttemptReport, Candidate, Progress, RunReport, SeedOutcome};

/// How to run the loop.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Seeds each candidate runs on.
    pub seeds: Vec<u64>,
    /// Attempts (generation + repairs).
    pub max_attempts: u32,
    /// Accept once the success rate over seeds reaches this (RoboTwin: 0.5).
    pub threshold: f64,
    /// Candidates sampled per attempt (best-of-N).
    pub samples: u32,
    /// Sampling temperature (0 for one sample; raised for best-of-N).
    pub temperature: f64,
    /// Least temperature for repairs: greedy decoding of a small model tends to hand
    /// back the program it was asked to fix; some randomness lets repairs explore.
    pub repair_temperature: f64,
    /// Most tokens per reply.
    pub max_tokens: u32,
    /// How deep undefined helpers are generated recursively.
    pub helper_depth: u32,
    /// Worker threads for seeds.
    pub threads: usize,
    /// Episode options (sandbox limits, checkpoint monitor).
    pub episode: EpisodeOptions,
    /// Constrain decoding of programs to the API and the scene's object names (a
    /// grammar, see [`crate::grammar`]); honoured by the local model.
    pub constrain: bool,
    /// Penalise repetition in repair replies (DRY; honoured by the local model), so a
    /// repair cannot fall into a loop of one statement.
    pub repair_dry: Option<cap_llm::Dry>,
    /// Plan, then code: first ask for the steps (no code), then for the program with
    /// them as comments.
    pub plan: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            seeds: vec![0],
            max_attempts: 5,
            threshold: 0.5,
            samples: 1,
            temperature: 0.0,
            repair_temperature: 0.0,
            max_tokens: 1024,
            helper_depth: 2,
            threads: std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            episode: EpisodeOptions::default(),
            constrain: false,
            repair_dry: None,
            plan: false,
        }
    }
}

/// One seed's outcome and its attribution.
type SeedResult = (SeedOutcome, Option<Attribution>);

/// The loop for one instruction on one scene.
pub struct Agent<'a> {
    provider: &'a dyn Provider,
    prompts: Prompts,
    scene: Arc<Scene>,
    task: Option<TaskSpec>,
    instruction: String,
    api: String,
    facts: String,
    /// Library functions: verified helpers spliced in when a program calls them.
    functions: Vec<crate::skills::Helper>,
}

fn first_unknown_helper(errors: &[StaticError]) -> Option<(String, u32)> {
    errors.iter().find_map(|e| {
        let m = &e.failure.message;
        (e.failure.kind == FailureKind::UnknownFunction && !m.contains("did you mean"))
            .then(|| m.split('`').nth(1).map(|n| (n.to_owned(), e.line)))
            .flatten()
    })
}

impl<'a> Agent<'a> {
    /// An agent for `instruction` on `scene`; `task` (if any) decides success.
    pub fn new(
        provider: &'a dyn Provider,
        prompts: Prompts,
        scene: Arc<Scene>,
        task: Option<TaskSpec>,
        instruction: String,
    ) -> Self {
        // The scene facts every prompt shows, from the settled seed-0 world, built once,
        // and the API reference with that world's arm.
        let world = World::new(Arc::clone(&scene), 0);
        let facts = world
            .as_ref()
            .map_or_else(|e| format!("(scene could not be built: {e})"), scene_facts);
        let api = world.as_ref().map_or_else(
            |_| cap_script::reference::reference(),
            |w| cap_script::reference::reference_for(w.robot()),
        );
        Self {
            provider,
            prompts,
            scene,
            task,
            instruction,
            api,
            facts,
            functions: Vec::new(),
        }
    }

    /// Offer these library functions: a program that calls one without defining it
    /// gets its verified definition, not a model-written one.
    pub fn with_functions(mut self, functions: Vec<crate::skills::Helper>) -> Self {
        self.functions = functions;
        self
    }

    /// Ask the model; `program` requests (not helper definitions) are decoded under
    /// the program grammar when `cfg.constrain` is set.
    fn ask(
        &self,
        user: String,
        sample: u32,
        program: bool,
        cfg: &RunConfig,
        acc: &mut AttemptReport,
    ) -> Result<String, LlmError> {
        let req = ChatRequest {
            messages: vec![
                Message::system(fill(&self.prompts.system, &[("api", &self.api)])),
                Message::user(user),
            ],
            temperature: {
                let t = if cfg.samples > 1 {
                    cfg.temperature.max(0.7)
                } else {
                    cfg.temperature
                };
                if acc.kind == "repair" {
                    t.max(cfg.repair_temperature)
                } else {
                    t
                }
            },
            max_tokens: cfg.max_tokens,
            sample,
            grammar: (program && cfg.constrain).then(|| program_grammar(&self.scene)),
            dry: if acc.kind == "repair" {
                cfg.repair_dry
            } else {
                None
            },
        };
        let t = Instant::now();
        let r = self.provider.chat(&req);
        acc.llm_latency_s += t.elapsed().as_secs_f64();
        let r = r?;
        acc.tokens_in += r.tokens_in;
        acc.tokens_out += r.tokens_out;
        acc.cached_replies += u32::from(r.cached);
        Ok(r.content)
    }

    /// Splice in definitions of undefined helpers, asking the model for each.
    fn with_helpers(
        &self,
        mut program: String,
        sample: u32,
        cfg: &RunConfig,
        acc: &mut AttemptReport,
        helpers: &mut Vec<String>,
    ) -> Result<(String, Vec<StaticError>), LlmError> {
        let engine = cap_script::sandbox::engine(&cfg.episode.limits);
        for _ in 0..=cfg.helper_depth * 4 {
            let errors = match cap_script::check_program(&engine, &program, &self.scene) {
                Ok(_) => return Ok((program, Vec::new())),
                Err(e) => e,
            };
            // A library function the program calls (even one a suggestion was made
            // for: `put_on` is near `place_on`) gets its verified definition.
            if let Some(f) = errors.iter().find_map(|e| {
                (e.failure.kind == FailureKind::UnknownFunction)
                    .then(|| e.failure.message.split('`').nth(1))
                    .flatten()
                    .and_then(|n| self.functions.iter().find(|f| f.name == n))
            }) {
                if !helpers.contains(&f.name) {
                    program = format!("{}\n\n{program}", f.source.trim());
                    helpers.push(f.name.clone());
                    continue;
                }
            }
            let Some((name, line)) = first_unknown_helper(&errors) else {
                return Ok((program, errors));
            };
            if helpers.len() as u32 >= cfg.helper_depth * 4 || helpers.iter().any(|h| h == &name) {
                return Ok((program, errors));
            }
            let call_site = program
                .lines()
                .nth(line.saturating_sub(1) as usize)
                .unwrap_or("")
                .trim()
                .to_owned();
            let user = fill(
                &self.prompts.helper,
                &[
                    ("function", &name),
                    ("call_site", &call_site),
                    ("scene", &self.facts),
                ],
            );
            let reply = self.ask(user, sample, false, cfg, acc)?;
            let def = extract_program(&reply);
            helpers.push(name);
            program = format!("{def}\n\n{program}");
        }
        let errors = cap_script::check_program(&engine, &program, &self.scene)
            .err()
            .unwrap_or_default();
        Ok((program, errors))
    }

    /// Apply certain fix-its in rounds: the program, the errors left (a repair starts
    /// from the fixed program) and the fixes applied; never one that adds a parse
    /// error. A clean program then gets the certain reordering (cap_script::reorder).
    fn fix(
        &self,
        mut program: String,
        mut errors: Vec<StaticError>,
        cfg: &RunConfig,
    ) -> (String, Vec<StaticError>, Vec<String>) {
        let engine = cap_script::sandbox::engine(&cfg.episode.limits);
        let mut applied = Vec::new();
        // Each round fixes what the checker reports; a parse error hides the rest.
        for _ in 0..4 {
            let Some((fixed, done)) = cap_script::diagnostic::apply_fixits(&program, &errors)
            else {
                break;
            };
            let left = cap_script::check_program(&engine, &fixed, &self.scene)
                .err()
                .unwrap_or_default();
            let parse = |e: &[StaticError]| {
                e.iter()
                    .any(|e| e.failure.kind == cap_core::failure::FailureKind::ParseError)
            };
            if parse(&left) && !parse(&errors) {
                break;
            }
            applied.extend(done.iter().map(ToString::to_string));
            program = fixed;
            errors = left;
            if errors.is_empty() {
                break;
            }
        }
        // Picking a second object while holding the first: place the first before.
        if errors.is_empty() {
            if let Some((moved, notes)) = cap_script::reorder::place_before_next_pick(&program) {
                if cap_script::check_program(&engine, &moved, &self.scene).is_ok() {
                    program = moved;
                    applied.extend(notes);
                }
            }
        }
        (program, errors, applied)
    }

    /// Run `program` on every seed; the first seed's episode goes to the recorder (if
    /// any), tagged with `attempt` and `sample`.
    fn evaluate(
        &self,
        program: &str,
        cfg: &RunConfig,
        attempt: u32,
        sample: u32,
    ) -> Vec<(SeedOutcome, Option<Attribution>)> {
        let seeds = &cfg.seeds;
        let next = std::sync::atomic::AtomicUsize::new(0);
        let out: std::sync::Mutex<Vec<Option<SeedResult>>> =
            std::sync::Mutex::new(vec![None; seeds.len()]);
        std::thread::scope(|s| {
            for _ in 0..cfg.threads.clamp(1, seeds.len().max(1)) {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&seed) = seeds.get(i) else { break };
                    let mut opts = cfg.episode.clone();
                    opts.episode_id = format!("attempt{attempt}-sample{sample}-seed{seed}");
                    if i == 0 {
                        opts.attempt = attempt;
                        opts.label = format!("attempt {attempt}, sample {sample}, seed {seed}");
                    } else {
                        opts.recorder = None;
                    }
                    let r = self.run_seed(program, seed, &opts);
                    if let Ok(mut o) = out.lock() {
                        o[i] = Some(r);
                    }
                });
            }
        });
        out.into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .flatten()
            .collect()
    }

    fn run_seed(
        &self,
        program: &str,
        seed: u64,
        opts: &EpisodeOptions,
    ) -> (SeedOutcome, Option<Attribution>) {
        let world = match World::new(Arc::clone(&self.scene), seed) {
            Ok(w) => w,
            Err(e) => {
                let o = SeedOutcome {
                    seed,
                    success: false,
                    failure: None,
                    checkpoints: Vec::new(),
                    sim_time_s: 0.0,
                };
                let a = Attribution {
                    class: crate::FailureClass::Runtime,
                    kind: FailureKind::ScriptError,
                    subgoal: None,
                    line: None,
                    object: None,
                    evidence: vec![format!("the world could not be built: {e}")],
                    first_failed_checkpoint: None,
                };
                return (o, Some(a));
            }
        };
        let ep = run_episode(world, program, self.task.as_ref(), opts);
        let checkpoints: Vec<(String, Answer)> = ep
            .trace
            .iter()
            .filter_map(|e| match &e.event {
                EventKind::Checkpoint {
                    statement,
                    verdicts,
                    ..
                } => Some((
                    statement.clone(),
                    verdicts.first().map_or(Answer::CannotTell, |v| v.answer),
                )),
                _ => None,
            })
            .collect();
        // Without a task: success = ran to the end and no checkpoint was judged false.
        let success = match self.task {
            Some(_) => ep.success == Some(true),
            None => {
                ep.abort.is_none()
                    && ep.static_errors.is_empty()
                    && !checkpoints.iter().any(|c| c.1 == Answer::DoesNotHold)
            }
        };
        let failure = if success {
            None
        } else {
            attribute(&ep, self.task.as_ref().map(|t| t.success.as_str()))
        };
        let o = SeedOutcome {
            seed,
            success,
            failure: failure.clone(),
            checkpoints,
            sim_time_s: ep.world.sim_time_s(),
        };
        (o, failure)
    }

    fn candidate(
        &self,
        user: &str,
        sample: u32,
        cfg: &RunConfig,
        acc: &mut AttemptReport,
        tried: &mut Vec<String>,
        repairing: Option<&str>,
    ) -> Result<Candidate, LlmError> {
        let mut reply = self.ask(user.to_owned(), sample, true, cfg, acc)?;
        // A repair that hands back a program already tried is not run: ask once more,
        // saying so, hotter (and as another sample, so a cache answers anew).
        if tried.contains(&normalised(&extract_program(&reply))) {
            acc.repeats += 1;
            let again = format!("{user}{REPEAT_NOTICE}");
            let hot = RunConfig {
                temperature: cfg.temperature.max(REPEAT_TEMPERATURE),
                repair_temperature: cfg.repair_temperature.max(REPEAT_TEMPERATURE),
                ..cfg.clone()
            };
            reply = self.ask(again, sample + REPEAT_SAMPLE_OFFSET, true, &hot, acc)?;
        }
        let extracted = extract_program(&reply);
        if tried.contains(&normalised(&extracted)) {
            acc.repeats += 1;
            return Ok(Candidate {
                sample,
                program: extracted,
                helpers: Vec::new(),
                static_errors: vec!["the reply repeats a program already tried; not run".into()],
                fixits: Vec::new(),
                seeds: Vec::new(),
                success_rate: 0.0,
                failure_report: None,
                // Never chosen over a program that ran: it is one already tried.
                parsed: false,
            });
        }
        tried.push(normalised(&extracted));
        let mut helpers = Vec::new();
        let (program, errors) = self.with_helpers(extracted, sample, cfg, acc, &mut helpers)?;
        // A repair that dropped the `let` lines it still uses gets them back.
        let (program, errors, carried) = match repairing {
            Some(before) if !errors.is_empty() => {
                let engine = cap_script::sandbox::engine(&cfg.episode.limits);
                let check = |p: &str| {
                    cap_script::check_program(&engine, p, &self.scene)
                        .err()
                        .unwrap_or_default()
                };
                let (p, carried) = crate::carry::carry_lets(&program, before, check);
                let e = check(&p);
                (p, e, carried)
            }
            _ => (program, errors, Vec::new()),
        };
        let (program, errors, mut fixits) = self.fix(program, errors, cfg);
        fixits.splice(0..0, carried);
        if !errors.is_empty() {
            return Ok(Candidate {
                sample,
                program,
                helpers,
                static_errors: errors.iter().map(ToString::to_string).collect(),
                fixits,
                seeds: Vec::new(),
                success_rate: 0.0,
                failure_report: None,
                parsed: !errors
                    .iter()
                    .any(|e| e.failure.kind == cap_core::failure::FailureKind::ParseError),
            });
        }
        let results = self.evaluate(&program, cfg, acc.attempt, sample);
        let per_seed: Vec<(u64, Option<Attribution>)> =
            results.iter().map(|(o, a)| (o.seed, a.clone())).collect();
        let ok = results.iter().filter(|(o, _)| o.success).count();
        Ok(Candidate {
            sample,
            program,
            helpers,
            static_errors: Vec::new(),
            fixits,
            success_rate: ok as f64 / results.len().max(1) as f64,
            seeds: results.into_iter().map(|(o, _)| o).collect(),
            failure_report: report(&per_seed),
            parsed: true,
        })
    }

    fn repair_prompt(&self, c: &Candidate, cfg: &RunConfig) -> String {
        let (failure, visual) = if !c.static_errors.is_empty() {
            (
                format!(
                    "The program was rejected before running:\n{}",
                    c.static_errors
                        .iter()
                        .map(|e| format!("- {e}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
                "(nothing ran)".to_owned(),
            )
        } else if let Some(r) = &c.failure_report {
            let a = &r.main;
            let mut s = format!(
                "- class: {}\n- failed on {:.0}% of the runs (by class: {})\n- subgoal: {}\n- line: {}\n",
                a.class.label(),
                r.frequency * 100.0,
                r.classes.iter().map(|(k, v)| format!("{k} x{}", v.len())).collect::<Vec<_>>().join(", "),
                a.subgoal.as_deref().unwrap_or("(none)"),
                a.line.map_or("(unknown)".into(), |l| l.to_string()),
            );
            for e in &a.evidence {
                s.push_str(&format!("- {e}\n"));
            }
            let v = a.first_failed_checkpoint.as_ref().map_or_else(
                || "No checkpoint was judged false.".to_owned(),
                |c| format!("The inspector ({}) judged \"{}\" false with confidence {:.2} (line {}); images: {}", c.inspector, c.statement, c.confidence, c.line.map_or("?".into(), |l| l.to_string()), c.images.join(", ")),
            );
            (s, v)
        } else {
            (
                format!(
                    "It succeeded on only {:.0}% of the runs.",
                    c.success_rate * 100.0
                ),
                String::new(),
            )
        };
        fill(
            &self.prompts.repair,
            &[
                ("instruction", &self.instruction),
                ("program", &numbered(&c.program)),
                ("seeds", &cfg.seeds.len().to_string()),
                ("failure_report", &failure),
                ("visual_feedback", &visual),
                ("scene", &self.facts),
            ],
        )
    }

    /// Run the loop. Never fails: a dead provider ends it with a report that says so.
    pub fn run(&self, cfg: &RunConfig, progress: &dyn Fn(Progress)) -> RunReport {
        let mut report = RunReport {
            instruction: self.instruction.clone(),
            task: self.task.as_ref().map(|t| t.name.clone()),
            provider: self.provider.id(),
            attempts: Vec::new(),
            success: false,
            best_success_rate: 0.0,
            final_program: None,
            stopped: String::new(),
            plan: None,
        };
        let first = fill(
            &self.prompts.task,
            &[
                ("examples", &self.prompts.examples),
                ("scene", &self.facts),
                ("instruction", &self.instruction),
            ],
        );
        // Plan, then code: the steps come first; their tokens count to attempt 1.
        let mut plan_acc = plan::attempt(1, "plan");
        let first = if cfg.plan {
            let (first, steps) = self.with_plan(first, cfg, progress, &mut plan_acc);
            report.plan = steps;
            first
        } else {
            first
        };
        let mut prompt = first;
        let mut best: Option<Candidate> = None;
        // Every program tried so far, whitespace normalised.
        let mut tried: Vec<String> = Vec::new();
        // The program the current prompt asks to repair.
        let mut repairing: Option<String> = None;
        for attempt in 1..=cfg.max_attempts.max(1) {
            let kind = if attempt == 1 { "generate" } else { "repair" };
            let mut acc = plan::attempt(attempt, kind);
            if attempt == 1 {
                acc.tokens_in += plan_acc.tokens_in;
                acc.tokens_out += plan_acc.tokens_out;
                acc.llm_latency_s += plan_acc.llm_latency_s;
                acc.cached_replies += plan_acc.cached_replies;
            }
            progress(Progress::Asking {
                attempt,
                what: format!("{kind}, {} sample(s)", cfg.samples.max(1)),
            });
            for sample in 0..cfg.samples.max(1) {
                match self.candidate(
                    &prompt,
                    sample,
                    cfg,
                    &mut acc,
                    &mut tried,
                    repairing.as_deref(),
                ) {
                    Ok(c) => acc.candidates.push(c),
                    Err(e) => {
                        // The report keeps the provider's error in words.
                        acc.llm_error = Some(e.to_string());
                        break;
                    }
                }
            }
            let best_here = acc
                .candidates
                .iter()
                .enumerate()
                .max_by(|a, b| {
                    a.1.success_rate
                        .total_cmp(&b.1.success_rate)
                        .then(b.0.cmp(&a.0))
                })
                .map(|(i, _)| i);
            acc.best = best_here;
            let chosen = best_here.map(|i| acc.candidates[i].clone());
            let llm_error = acc.llm_error.clone();
            report.attempts.push(acc);
            if let Some(c) = &chosen {
                let summary = if !c.static_errors.is_empty() {
                    format!("static: {}", c.static_errors[0])
                } else if let Some(r) = &c.failure_report {
                    format!(
                        "{} at line {} ({:.0}% of runs)",
                        r.main.class.label(),
                        r.main.line.map_or("?".into(), |l| l.to_string()),
                        r.frequency * 100.0
                    )
                } else {
                    "all runs succeeded".into()
                };
                progress(Progress::Attempt {
                    attempt,
                    success_rate: c.success_rate,
                    summary,
                });
                // A better rate wins; at the same rate, a program over prose.
                if best
                    .as_ref()
                    .is_none_or(|b| c.success_rate > b.success_rate || (c.parsed && !b.parsed))
                {
                    best = Some(c.clone());
                }
                if c.static_errors.is_empty() && c.success_rate >= cfg.threshold {
                    report.stopped = format!(
                        "success rate {:.0}% reached the threshold {:.0}% on attempt {attempt}",
                        c.success_rate * 100.0,
                        cfg.threshold * 100.0
                    );
                    report.success = true;
                    break;
                }
                prompt = self.repair_prompt(c, cfg);
                repairing = Some(c.program.clone());
            }
            if let Some(e) = llm_error {
                report.stopped = format!("the language model failed on attempt {attempt}: {e}");
                break;
            }
        }
        if report.stopped.is_empty() {
            report.stopped = format!(
                "no program reached {:.0}% within {} attempts",
                cfg.threshold * 100.0,
                cfg.max_attempts
            );
        }
        if let Some(b) = best {
            report.best_success_rate = b.success_rate;
            if b.parsed {
                report.final_program = Some(b.program);
            } else {
                // Prose is not a program: nothing goes to final.rhai.
                report
                    .stopped
                    .push_str("; no reply held a program that parses");
            }
        }
        report
    }
}

/// Said to a model that handed back a program already tried.
const REPEAT_NOTICE: &str = "\n\nYour reply was the same program as one already tried, and that program failed as described above. Write a different program that fixes the failure.";
/// The least temperature of the second ask after a repeat.
const REPEAT_TEMPERATURE: f64 = 0.9;
/// The second ask is sampled as another index, so a cache does not answer it with
/// the repeat again.
const REPEAT_SAMPLE_OFFSET: u32 = 1000;

/// A program with its whitespace collapsed, for comparing attempts.
fn normalised(program: &str) -> String {
    program.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[path = "plan.rs"]
mod plan;

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
