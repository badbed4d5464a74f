//! The sandboxed engine: a raw rhai engine with the standard value packages only, no
//! module loading, no `eval`, no clock, and limits on everything a hostile or buggy
//! program could exhaust.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::packages::{Package, StandardPackage};
use rhai::{Dynamic, Engine};

/// Resource limits of one program run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Interpreter operations (roughly: expressions evaluated).
    pub max_operations: u64,
    /// Function call nesting.
    pub max_call_levels: usize,
    /// Expression nesting at global level.
    pub max_expr_depth: usize,
    /// Expression nesting inside functions.
    pub max_fn_expr_depth: usize,
    /// Bytes in one string.
    pub max_string_size: usize,
    /// Elements in one array (nested arrays count in full).
    pub max_array_size: usize,
    /// Entries in one map.
    pub max_map_size: usize,
    /// Variables in scope.
    pub max_variables: usize,
    /// Script-defined functions.
    pub max_functions: usize,
    /// Wall-clock time of the whole run (simulation included).
    pub max_wall: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_operations: 2_000_000,
            max_call_levels: 32,
            max_expr_depth: 64,
            max_fn_expr_depth: 32,
            max_string_size: 16 * 1024,
            max_array_size: 10_000,
            max_map_size: 1_000,
            max_variables: 1_000,
            max_functions: 200,
            max_wall: Duration::from_secs(30),
        }
    }
}

/// The value `on_progress` terminates a run with when the wall clock runs out.
pub const WALL_CLOCK_TOKEN: &str = "wall clock limit";

/// A raw engine with the standard packages and every limit of `limits` applied.
/// `deadline` starts counting when the first operation runs.
pub fn engine(limits: &Limits) -> Engine {
    // Building the standard package costs ~0.5 ms; build it once per process.
    static STD: std::sync::OnceLock<rhai::Shared<rhai::Module>> = std::sync::OnceLock::new();
    let mut e = Engine::new_raw();
    e.register_global_module(
        STD.get_or_init(|| StandardPackage::new().as_shared_module())
            .clone(),
    );
    e.set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_fn_expr_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_variables(limits.max_variables)
        .set_max_functions(limits.max_functions)
        .set_max_strings_interned(256);
    // No dynamic code: eval is a keyword the parser must refuse.
    e.disable_symbol("eval");
    // Output goes nowhere unless the runner reroutes it into the trace.
    e.on_print(|_| {});
    e.on_debug(|_, _, _| {});
    let max_wall = limits.max_wall;
    let start: Arc<std::sync::OnceLock<Instant>> = Arc::new(std::sync::OnceLock::new());
    e.on_progress(move |ops| {
        // Only look at the clock every 256 operations: it is not free.
        if ops % 256 != 0 {
            return None;
        }
        let t0 = start.get_or_init(Instant::now);
        (t0.elapsed() > max_wall).then(|| Dynamic::from(WALL_CLOCK_TOKEN))
    });
    e
}
