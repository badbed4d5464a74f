//! The failure taxonomy: the labels attribution works with.
//!
//! Every failure a program can meet (static, runtime, motion, grasp, outcome,
//! checkpoint, timeout) is one [`FailureKind`]; a [`Failure`] adds the message and the
//! object it concerns. Traces and reports carry these, serialised in `snake_case`.

use serde::{Deserialize, Serialize};

/// What class of thing went wrong. Grouped as in DESIGN.md's taxonomy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    // static: found before anything runs
    /// The program does not parse.
    ParseError,
    /// A call to a function that neither the API nor the program defines.
    UnknownFunction,
    /// A known function called with the wrong number of arguments.
    WrongArity,
    /// A string literal names an object the scene does not have.
    UnknownObject,
    // runtime
    /// A rhai runtime error (type error, index out of bounds, thrown value, ...).
    ScriptError,
    /// A primitive got an argument it cannot use (NaN, wrong type, wrong length).
    InvalidArgument,
    /// The sandbox stopped the program (operations, call depth, data size, wall clock).
    SandboxLimit,
    // motion
    /// No joint configuration reaches the requested pose.
    Unreachable,
    /// The planned path would hit the table or an object.
    Collision,
    /// A joint position or velocity limit would be violated.
    JointLimit,
    /// The safety gate refused the command (workspace box, non-finite values, limits).
    SafetyGate,
    // grasp
    /// The gripper closed without holding the object.
    NoGrasp,
    /// A held object was lost during motion.
    Slipped,
    // outcome
    /// The right action was applied to the wrong object.
    WrongTarget,
    /// Steps happened in the wrong order.
    WrongOrder,
    /// An object left the table.
    ObjectFell,
    /// The task's success predicate does not hold at the end.
    PredicateUnmet,
    // monitoring
    /// A checkpoint statement was judged not to hold.
    CheckpointFailed,
    /// The simulated-time budget of the episode ran out.
    Timeout,
    // a real arm behind the bridge
    /// The link to the robot went silent or dropped; cap sends nothing more.
    LinkLost,
    /// The robot reports an error (its own limits, a fault, a broken protocol).
    RobotError,
    /// The robot is not where the motion was planned from (MoveIt's start-state check).
    StartMismatch,
    /// The robot is e-stopped; it stays so until a person recovers it.
    Estop,
    /// The robot left the path or missed the goal by more than the tolerances, or did
    /// not finish in 1.1 x the planned duration + 0.5 s.
    TrackingError,
    /// The robot refused a motion or gripper command.
    GoalRefused,
}

impl FailureKind {
    /// The snake_case label used in traces and reports.
    pub fn label(self) -> &'static str {
        match self {
            Self::ParseError => "parse_error",
            Self::UnknownFunction => "unknown_function",
            Self::WrongArity => "wrong_arity",
            Self::UnknownObject => "unknown_object",
            Self::ScriptError => "script_error",
            Self::InvalidArgument => "invalid_argument",
            Self::SandboxLimit => "sandbox_limit",
            Self::Unreachable => "unreachable",
            Self::Collision => "collision",
            Self::JointLimit => "joint_limit",
            Self::SafetyGate => "safety_gate",
            Self::NoGrasp => "no_grasp",
            Self::Slipped => "slipped",
            Self::WrongTarget => "wrong_target",
            Self::WrongOrder => "wrong_order",
            Self::ObjectFell => "object_fell",
            Self::PredicateUnmet => "predicate_unmet",
            Self::CheckpointFailed => "checkpoint_failed",
            Self::Timeout => "timeout",
            Self::LinkLost => "link_lost",
            Self::RobotError => "robot_error",
            Self::StartMismatch => "start_mismatch",
            Self::Estop => "estop",
            Self::TrackingError => "tracking_error",
            Self::GoalRefused => "goal_refused",
        }
    }

    /// True for failures found by the static checker, before anything ran.
    pub fn is_static(self) -> bool {
        matches!(
            self,
            Self::ParseError | Self::UnknownFunction | Self::WrongArity | Self::UnknownObject
        )
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// One failure: its class, a human/model-readable message, and the object involved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The class.
    pub kind: FailureKind,
    /// What happened, in one line.
    pub message: String,
    /// The scene object the failure concerns, if any (`"table"` for the table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
}

impl Failure {
    /// A failure with no object attached.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            object: None,
        }
    }

    /// A failure concerning `object`.
    pub fn with_object(
        kind: FailureKind,
        message: impl Into<String>,
        object: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            object: Some(object.into()),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Failure {}
