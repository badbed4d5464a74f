//! `cap-script`: the sandboxed rhai runtime that policy programs run in.
//!
//! * [`api`] — the script API. Each function is declared once, with its parameters,
//!   one-line doc and example; that declaration both registers it with rhai and
//!   generates the reference `cap api` prints (and a model is shown).
//! * [`sandbox`] — the raw engine and its limits (operations, call depth, expression
//!   depth, data sizes, wall clock); no modules, no eval, no clock.
//! * [`check`] — the static checker: parse errors, unknown functions, wrong arity,
//!   unknown object names, with line numbers, before anything runs.
//! * [`reorder`] — the one certain reordering: a placement moved above the `pick` of
//!   the next object, since the gripper holds one object at a time.
//! * [`run`] — executing a program against a world, recording every call as a trace
//!   event, and evaluating a task's hidden success predicate.

pub mod api;
pub mod check;
pub mod diagnostic;
pub mod lint;
pub mod monitor;
pub mod reference;
pub mod reorder;
pub mod robot_facts;
pub mod run;
pub mod sandbox;
mod value;

pub use check::{check_program, StaticError};
pub use monitor::{CheckpointResult, Monitor, SharedMonitor};
pub use run::{run_episode, Episode, EpisodeOptions};
pub use sandbox::Limits;
