//! What the repair loop reports: each seed's outcome, each candidate program, each
//! attempt and the whole run (serialised into `cap run`'s report.json), and the
//! progress the loop announces as it goes.

use cap_core::trace::Answer;
use serde::Serialize;

use crate::attribution::{Attribution, FailureReport};

/// One seed's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// Whether the task succeeded.
    pub success: bool,
    /// Why not.
    pub failure: Option<Attribution>,
    /// Checkpoints: statement and the primary answer.
    pub checkpoints: Vec<(String, Answer)>,
    /// Simulated seconds.
    pub sim_time_s: f64,
}

/// One candidate program.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// Sample index within the attempt.
    pub sample: u32,
    /// The program as run (helpers spliced in).
    pub program: String,
    /// Helper functions generated for it.
    pub helpers: Vec<String>,
    /// Static errors (then nothing ran).
    pub static_errors: Vec<String>,
    /// Fix-its cap applied itself before running (`line N: `from` -> `to``, and `let`
    /// lines carried over from the program being repaired); the program above is the
    /// fixed one.
    pub fixits: Vec<String>,
    /// Per-seed outcomes.
    pub seeds: Vec<SeedOutcome>,
    /// Successes / seeds.
    pub success_rate: f64,
    /// The structured failure report.
    pub failure_report: Option<FailureReport>,
    /// Whether the reply held a program at all (it parsed; prose does not), and was not
    /// a repeat refused without running.
    pub parsed: bool,
}

/// One attempt.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptReport {
    /// 1-based.
    pub attempt: u32,
    /// `generate` or `repair`.
    pub kind: &'static str,
    /// Candidates (one without best-of-N).
    pub candidates: Vec<Candidate>,
    /// Index of the best candidate.
    pub best: Option<usize>,
    /// Prompt tokens this attempt.
    pub tokens_in: u64,
    /// Completion tokens.
    pub tokens_out: u64,
    /// Model latency, seconds.
    pub llm_latency_s: f64,
    /// Replies served from the cache.
    pub cached_replies: u32,
    /// The provider failed during this attempt.
    pub llm_error: Option<String>,
    /// Replies that handed back a program already tried (not run; asked again).
    pub repeats: u32,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The instruction.
    pub instruction: String,
    /// The task whose predicate decides success, if any.
    pub task: Option<String>,
    /// The provider.
    pub provider: String,
    /// Attempts.
    pub attempts: Vec<AttemptReport>,
    /// Whether a program reached the threshold.
    pub success: bool,
    /// Best success rate reached.
    pub best_success_rate: f64,
    /// The best program (highest success rate; earliest on ties).
    pub final_program: Option<String>,
    /// Why the loop stopped.
    pub stopped: String,
    /// The steps of the plan the program was asked for under (plan, then code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<String>>,
}

/// Something that happened, for progress display.
#[derive(Debug, Clone)]
pub enum Progress {
    /// Asking the model.
    Asking {
        /// Attempt.
        attempt: u32,
        /// What for.
        what: String,
    },
    /// An attempt finished.
    Attempt {
        /// Attempt.
        attempt: u32,
        /// Best success rate in it.
        success_rate: f64,
        /// One line on what went wrong.
        summary: String,
    },
}
