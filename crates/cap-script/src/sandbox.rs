//! The sandboxed engine: a raw rhai engine with the standard value packages only, no
//! module loading, no `eval`, no clock, and limits on everything a hostile or buggy
//! program could exhaust.

use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Wall-clock time the program may spend computing: the run's time less the time
    /// inside motion and monitoring calls (which are bounded by simulated time).
    pub max_compute: Duration,
    /// Operations each call of an API function is charged, on top of rhai's own count:
    /// a host call costs about as much as this many interpreter operations (a query
    /// builds its answer and records a trace event), so a loop of queries meets the
    /// operation limit about as soon as a loop of arithmetic does.
    pub host_call_ops: u64,
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
            max_compute: Duration::from_secs(1),
            host_call_ops: 100,
        }
    }
}

/// The value `on_progress` terminates a run with when the wall clock runs out.
pub const WALL_CLOCK_TOKEN: &str = "wall clock limit";
/// ... when the program has computed for longer than [`Limits::max_compute`].
pub const COMPUTE_TOKEN: &str = "compute time limit";
/// ... when rhai's operations plus the operations charged for host calls pass
/// [`Limits::max_operations`].
pub const OPERATIONS_TOKEN: &str = "operation limit";

/// What a run's host calls cost, shared by the API's wrappers (which charge it) and
/// the engine's progress hook (which enforces the limits). Atomics: the hook must not
/// take the session's lock.
#[derive(Debug, Default)]
pub struct Meter {
    per_call_ops: u64,
    charged_ops: AtomicU64,
    host_nanos: AtomicU64,
}

impl Meter {
    /// Charge one host call ([`Limits::host_call_ops`]).
    pub fn charge_call(&self) {
        self.charged_ops
            .fetch_add(self.per_call_ops, Ordering::Relaxed);
    }

    /// Operations charged so far.
    pub fn charged_ops(&self) -> u64 {
        self.charged_ops.load(Ordering::Relaxed)
    }

    /// Time spent in a call that does not count as computing (a motion, a checkpoint).
    pub fn exclude(&self, spent: Duration) {
        let nanos = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        self.host_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn excluded(&self) -> Duration {
        Duration::from_nanos(self.host_nanos.load(Ordering::Relaxed))
    }
}

/// A raw engine with the standard packages and every limit of `limits` applied.
/// The clocks start when the first operation runs.
pub fn engine(limits: &Limits) -> Engine {
    metered_engine(limits).0
}

/// [`engine`], and the meter its progress hook reads: host calls charged to it count
/// toward the operation limit, and time excluded from it does not count as computing.
pub fn metered_engine(limits: &Limits) -> (Engine, Arc<Meter>) {
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
    // A variable used before `let` is a compile-time error with its line, not a failure
    // halfway through a motion (small models drop `let` lines in repairs).
    e.set_strict_variables(true);
    // Output goes nowhere unless the runner reroutes it into the trace.
    e.on_print(|_| {});
    e.on_debug(|_, _, _| {});
    let (max_wall, max_compute, max_ops) =
        (limits.max_wall, limits.max_compute, limits.max_operations);
    let meter = Arc::new(Meter {
        per_call_ops: limits.host_call_ops,
        ..Meter::default()
    });
    let hook = Arc::clone(&meter);
    let start: Arc<std::sync::OnceLock<Instant>> = Arc::new(std::sync::OnceLock::new());
    e.on_progress(move |ops| {
        // Only look at the meter and the clock every 64 operations: they are not free.
        if ops % 64 != 0 {
            return None;
        }
        if ops.saturating_add(hook.charged_ops()) > max_ops {
            return Some(Dynamic::from(OPERATIONS_TOKEN));
        }
        let elapsed = start.get_or_init(Instant::now).elapsed();
        if elapsed > max_wall {
            return Some(Dynamic::from(WALL_CLOCK_TOKEN));
        }
        (elapsed.saturating_sub(hook.excluded()) > max_compute)
            .then(|| Dynamic::from(COMPUTE_TOKEN))
    });
    (e, meter)
}
