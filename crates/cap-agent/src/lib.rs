//! `cap-agent`: the HyCodePolicy loop.
//!
//! Attempt = generate (with hierarchical generation of undefined helpers) → static
//! check (errors go straight back to the model) → run on the seeds in parallel →
//! success predicate → attribution (trace + first failed checkpoint) → repair prompt.
//! The best program is kept; every attempt is reported. The skill library (`skills`)
//! gives the first request its examples and the library functions.

pub mod agent;
pub mod attribution;
pub mod carry;
pub mod grammar;
pub mod prompt;
pub mod report;
pub mod skills;

pub use agent::{Agent, AttemptReport, RunConfig, RunReport};
pub use attribution::{attribute, Attribution, FailureClass, FailureReport};
pub use prompt::Prompts;
