//! The hook through which `checkpoint(...)` and subgoal boundaries reach an inspector.
//!
//! cap-script only defines the interface; `cap-vision` implements it (render the
//! cameras, ask the vision model, cross-check with the geometric inspector), so the
//! script runtime never links ONNX Runtime or an HTTP client.

use std::sync::Arc;

use cap_core::trace::{Answer, EventKind, Verdict};
use cap_sim::prelude::World;

/// What one checkpoint produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckpointResult {
    /// Verdicts, the primary inspector's first.
    pub verdicts: Vec<Verdict>,
    /// Image files written for it.
    pub images: Vec<String>,
}

/// Looks at the world when the program states what should hold.
pub trait Monitor: Send + Sync {
    /// Judge `statement` on `world`; `index` numbers the episode's checkpoints from 0
    /// and `episode` names the episode (empty outside the repair loop), both for image
    /// file names, so episodes sharing a monitor do not overwrite each other's frames.
    fn checkpoint(
        &self,
        world: &World,
        statement: &str,
        index: u32,
        episode: &str,
    ) -> CheckpointResult;
}

/// A shared monitor.
pub type SharedMonitor = Arc<dyn Monitor>;

/// Whether two verdicts give opposite definite answers.
pub fn disagreement(verdicts: &[Verdict]) -> bool {
    let definite = |a: Answer| verdicts.iter().any(|v| v.answer == a);
    definite(Answer::Holds) && definite(Answer::DoesNotHold)
}

/// The trace event for a checkpoint.
pub fn event(statement: &str, automatic: bool, r: CheckpointResult) -> EventKind {
    EventKind::Checkpoint {
        statement: statement.to_owned(),
        automatic,
        disagreement: disagreement(&r.verdicts),
        verdicts: r.verdicts,
        images: r.images,
    }
}
