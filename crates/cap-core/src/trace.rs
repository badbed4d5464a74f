//! Trace events: the record of one program execution, one JSON object per line.
//!
//! Nothing wall-clock goes into a trace: the same scene, seed and program give a
//! bit-identical `trace.jsonl`. Times are simulated seconds; `step` counts physics steps.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::failure::Failure;

/// One line of `trace.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceEvent {
    /// Position in the trace, from 0.
    pub seq: u64,
    /// Physics steps taken so far.
    pub step: u64,
    /// Simulated time in seconds (`step * dt`).
    pub sim_time_s: f64,
    /// 1-based source line of the program that caused the event, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The subgoal the program had declared when the event happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subgoal: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub event: EventKind,
}

/// The kinds of trace event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// The episode began.
    Start {
        /// Scene name.
        scene: String,
        /// Task name, if one was given.
        task: Option<String>,
        /// Randomisation seed.
        seed: u64,
        /// sha256 of the program source, hex.
        program_sha256: String,
    },
    /// A call of an API function by the program.
    Call {
        /// Function name.
        function: String,
        /// Arguments as JSON.
        args: Vec<Value>,
        /// Result as JSON (`null` when the call failed).
        result: Value,
        /// Why it failed, if it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<Failure>,
        /// What the call chose beyond its result: for `pick`, the grasp it used
        /// (`{"grasp": "yaw 90°", "yaw_deg": 90.0}`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<Value>,
    },
    /// The program stopped abnormally (uncaught failure, script error, sandbox limit).
    Abort {
        /// Why.
        failure: Failure,
    },
    /// A checkpoint: a statement about the scene, the camera images taken, and what
    /// each inspector answered.
    Checkpoint {
        /// The statement, as the program wrote it (or the subgoal text).
        statement: String,
        /// Whether a `subgoal(...)` boundary triggered it rather than `checkpoint(...)`.
        automatic: bool,
        /// Verdicts, the primary inspector's first.
        verdicts: Vec<Verdict>,
        /// Image files written for it (RGB, depth, segmentation per camera).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        images: Vec<String>,
        /// Two inspectors gave opposite definite answers.
        disagreement: bool,
    },
    /// The episode ended; the success predicate was evaluated on the settled world.
    End {
        /// Whether the episode succeeded: the program ran to its end and the task's
        /// success predicate held (`null` without a task).
        success: Option<bool>,
        /// Why it failed: the uncaught failure that stopped the program, or the outcome
        /// failure when it ran to its end and the predicate does not hold.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<Failure>,
        /// Final object positions, sorted by name: `[name, [x, y, z]]`.
        objects: Vec<(String, [f64; 3])>,
    },
}

impl TraceEvent {
    /// The failure this event carries, if any.
    pub fn failure(&self) -> Option<&Failure> {
        match &self.event {
            EventKind::Call { failure, .. } | EventKind::End { failure, .. } => failure.as_ref(),
            EventKind::Abort { failure } => Some(failure),
            EventKind::Start { .. } | EventKind::Checkpoint { .. } => None,
        }
    }
}

/// An inspector's answer to a checkpoint statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// The statement is true of what the inspector saw.
    Holds,
    /// The statement is false.
    DoesNotHold,
    /// The inspector cannot decide (unknown words or objects, low confidence, error).
    CannotTell,
}

impl Answer {
    /// snake_case label, as in traces.
    pub fn label(self) -> &'static str {
        match self {
            Answer::Holds => "holds",
            Answer::DoesNotHold => "does_not_hold",
            Answer::CannotTell => "cannot_tell",
        }
    }

    /// The answer to the negated statement.
    pub fn negate(self) -> Answer {
        match self {
            Answer::Holds => Answer::DoesNotHold,
            Answer::DoesNotHold => Answer::Holds,
            Answer::CannotTell => Answer::CannotTell,
        }
    }
}

/// Model confidences enter traces in steps of this size. A vision model run through
/// ONNX Runtime gives slightly different low bits on different CPUs (its kernels are
/// chosen at run time: AVX-512 on one machine, AVX2 on another), and a trace must be
/// the same on every machine; rounded to a thousandth, two such results agree unless
/// they straddle a rounding boundary (about once in ten thousand answers).
pub const CONFIDENCE_STEP: f64 = 1.0 / CONFIDENCE_STEPS_PER_UNIT;
/// Steps of [`CONFIDENCE_STEP`] in 1; a whole number, so that a rounded confidence is
/// the double nearest a number of thousandths (0.939, not 0.9390000000000001).
const CONFIDENCE_STEPS_PER_UNIT: f64 = 1000.0;

/// `c` rounded to [`CONFIDENCE_STEP`]; what inspectors answer with and decide on.
pub fn quantise_confidence(c: f64) -> f64 {
    if c.is_finite() {
        (c * CONFIDENCE_STEPS_PER_UNIT).round() / CONFIDENCE_STEPS_PER_UNIT
    } else {
        0.0
    }
}

/// One inspector's verdict on one statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Which inspector (`geometric`, `vision`, `remote`).
    pub inspector: String,
    /// The model or method behind it (file name and sha256 prefix, endpoint model id).
    pub model: String,
    /// The answer.
    pub answer: Answer,
    /// Confidence in the answer, 0..1 (the probability of the chosen answer).
    pub confidence: f64,
    /// The parsed form of the statement, or why it could not be judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidences_are_rounded_to_thousandths_exactly() {
        assert_eq!(quantise_confidence(0.939_021_3), 0.939);
        assert_eq!(quantise_confidence(0.998_967_170_715_332), 0.999);
        assert_eq!(quantise_confidence(f64::NAN), 0.0);
        assert_eq!(quantise_confidence(0.999_6), 1.0);
    }
}
