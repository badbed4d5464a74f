//! `cap-vision`: checkpoint inspectors.
//!
//! * [`statement`] — the statements inspectors understand, parsed into a relation over
//!   object descriptions ("red block", "yellow bowl").
//! * [`geometric`] — judges statements from simulator state (ground truth, cross-check).
//! * [`vision`] — cap's own small vision-language model (ONNX, run through `ort` on
//!   the CPU) that judges statements from a camera image.
//! * [`remote`] — asks a vision model behind an OpenAI-compatible chat API, through
//!   cap-llm's client.
//! * [`png_io`] — the PNG files of camera frames.
//! * [`monitor`] — the checkpoint monitor the script runtime calls: render the cameras,
//!   save the images, ask the inspector, cross-check with the geometric one.

pub mod dataset;
pub mod geometric;
pub mod monitor;
pub mod png_io;
pub mod remote;
pub mod runtime;
pub mod statement;
pub mod vision;

use cap_core::trace::Verdict;
use cap_sim::prelude::{Frame, World};

pub use geometric::GeometricInspector;
pub use monitor::CheckpointMonitor;
pub use remote::RemoteInspector;
pub use vision::VisionInspector;

/// What an inspector gets to look at.
#[derive(Clone, Copy)]
pub struct Observation<'a> {
    /// The simulator state, when there is one (absent for `cap inspect image.png`).
    pub world: Option<&'a World>,
    /// Camera frames taken for this checkpoint.
    pub frames: &'a [Frame],
}

/// Something that judges checkpoint statements.
pub trait Inspector: Send + Sync {
    /// Short name for traces (`geometric`, `vision`, `remote`).
    fn name(&self) -> &str;
    /// The model or method behind it.
    fn model(&self) -> String;
    /// Judge `statement`. Never fails: anything that prevents a judgement (an unknown
    /// word, a missing object, an unreachable endpoint) is a `cannot_tell` verdict
    /// whose detail says why.
    fn inspect(&self, obs: &Observation<'_>, statement: &str) -> Verdict;
}
