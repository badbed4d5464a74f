//! The reports cap writes, as typed structures: `report.json` of `cap exec` and
//! `cap run`, and `summary.json` of `cap eval`. Field names are the files' keys.

use std::collections::BTreeMap;

use cap_core::failure::FailureKind;
use cap_core::trace::Answer;
use cap_script::check::StaticError;
use serde::Serialize;

/// How a `cap exec` run ended (exit code 0, 1 or 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The task's predicate held (or, without a task, the program ran to its end).
    Success,
    /// The program ran and the task failed.
    Failed,
    /// The inputs are broken: the scene, the program, the task name, a setting.
    Invalid,
}

impl Status {
    /// The exit code the README's table gives.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::Failed => 1,
            Status::Invalid => 2,
        }
    }
}

/// `report.json` of `cap exec`.
#[derive(Debug, Clone, Serialize)]
pub struct ExecReport {
    /// cap's version.
    pub cap_version: &'static str,
    /// The scene file as given.
    pub scene_path: String,
    /// The program file as given.
    pub program: String,
    /// The task whose predicate decides success, if one was named.
    pub task: Option<String>,
    /// The seed.
    pub seed: u64,
    /// How it ended.
    pub status: Status,
    /// The command's exit code.
    pub exit_code: u8,
    /// Why the inputs were refused (status `invalid` before anything ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the episode did (absent when it never ran).
    #[serde(flatten)]
    pub episode: Option<EpisodeFacts>,
    /// sha256 of `trace.jsonl`.
    pub trace_sha256: Option<String>,
    /// The robot behind the bridge, for a run with `--robot`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub robot: Option<crate::robot_link::RobotFacts>,
}

impl ExecReport {
    /// A report of inputs refused before anything ran.
    pub fn refused(mut self, reason: &str) -> Self {
        self.status = Status::Invalid;
        self.exit_code = Status::Invalid.exit_code();
        self.error = Some(reason.to_owned());
        self
    }
}

/// What an episode of `cap exec` did.
#[derive(Debug, Clone, Serialize)]
pub struct EpisodeFacts {
    /// The scene's name.
    pub scene: String,
    /// The task's instruction.
    pub instruction: Option<String>,
    /// sha256 of the program's text.
    pub program_sha256: String,
    /// Whether the task's predicate held at the end (and the program ended).
    pub success: Option<bool>,
    /// Whether the predicate held, also when the program aborted.
    pub predicate_held: Option<bool>,
    /// The failure that decided the outcome.
    pub failure: Option<FailureFacts>,
    /// The static checker's findings.
    pub static_errors: Vec<StaticError>,
    /// Simulated seconds.
    pub sim_time_s: f64,
    /// Physics steps.
    pub steps: u64,
    /// API calls the program made.
    pub calls: usize,
    /// The checkpoint inspector.
    pub inspector: String,
    /// Every checkpoint, with the first inspector's answer.
    pub checkpoints: Vec<CheckpointFacts>,
    /// Wall-clock seconds of the whole command.
    pub wall_time_s: f64,
}

/// The failure that decided an episode.
#[derive(Debug, Clone, Serialize)]
pub struct FailureFacts {
    /// Its class (the failure taxonomy).
    pub kind: FailureKind,
    /// What happened.
    pub message: String,
    /// The object it concerns.
    pub object: Option<String>,
    /// The program line.
    pub line: Option<u32>,
    /// The subgoal it happened in.
    pub subgoal: Option<String>,
}

/// One checkpoint of an episode.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointFacts {
    /// The statement checked.
    pub statement: String,
    /// Whether cap added it (at a subgoal's end) rather than the program.
    pub automatic: bool,
    /// The program line.
    pub line: Option<u32>,
    /// The subgoal.
    pub subgoal: Option<String>,
    /// The first inspector's answer.
    pub answer: Option<Answer>,
    /// Its confidence (rounded as in the trace).
    pub confidence: Option<f64>,
    /// Whether the inspectors disagreed.
    pub disagreement: bool,
}

/// `report.json` of `cap run`: the repair loop's own report, and the run's settings.
#[derive(Debug, Serialize)]
pub struct RunFile<'a, R: Serialize> {
    /// The repair loop's report (attempts, candidates, the final program).
    #[serde(flatten)]
    pub report: &'a R,
    /// The scene file as given.
    pub scene_path: String,
    /// Seeds per attempt.
    pub seeds: u64,
    /// The success rate a program must reach.
    pub threshold: f64,
    /// The response cache directory.
    pub cache: String,
    /// Wall-clock seconds.
    pub wall_time_s: f64,
    /// Prompt tokens over all attempts.
    pub tokens_in: u64,
    /// Completion tokens over all attempts.
    pub tokens_out: u64,
    /// The skills the first request showed as examples, most similar first (empty:
    /// prompts/examples.md).
    pub skills: &'a [crate::skills::Retrieved],
}

/// `summary.json` of `cap eval`.
#[derive(Debug, Clone, Serialize)]
pub struct EvalSummary {
    /// Episodes (one per scene, task and seed).
    pub episodes: u64,
    /// Those that succeeded.
    pub successes: u64,
    /// Wilson 95% interval of the success rate.
    pub ci95: [f64; 2],
    /// Per task.
    pub tasks: Vec<TaskSummary>,
}

/// One task's line of `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct TaskSummary {
    /// The scene's name.
    pub scene: String,
    /// The task.
    pub task: String,
    /// Episodes.
    pub episodes: u64,
    /// Successes.
    pub successes: u64,
    /// successes / episodes.
    pub success_rate: f64,
    /// Wilson 95% interval.
    pub ci95: [f64; 2],
    /// Mean attempts of the episodes that succeeded.
    pub mean_attempts_to_success: Option<f64>,
    /// Failed episodes by failure class.
    pub failure_classes: BTreeMap<String, u64>,
    /// Prompt tokens.
    pub tokens_in: u64,
    /// Completion tokens.
    pub tokens_out: u64,
    /// Wall-clock seconds over its episodes.
    pub wall_s: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_run_has_status_code_and_error_but_no_episode() {
        let r = ExecReport {
            cap_version: "0",
            scene_path: "s.toml".into(),
            program: "p.rhai".into(),
            task: None,
            seed: 3,
            status: Status::Success,
            exit_code: 0,
            error: None,
            episode: None,
            trace_sha256: None,
            robot: None,
        }
        .refused("no task `x`");
        let v = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(v["status"], "invalid");
        assert_eq!(v["exit_code"], 2);
        assert_eq!(v["error"], "no task `x`");
        assert_eq!(v["seed"], 3);
        assert!(v.get("steps").is_none() && v.get("calls").is_none(), "{v}");
    }

    #[test]
    fn statuses_map_to_exit_codes() {
        assert_eq!(
            [Status::Success, Status::Failed, Status::Invalid].map(Status::exit_code),
            [0, 1, 2]
        );
        assert_eq!(
            serde_json::to_value(Status::Failed).unwrap_or_default(),
            "failed"
        );
    }
}
