//! A problem found in a program before it runs, with its line and column.

use cap_core::failure::Failure;

/// One problem found by the checker.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StaticError {
    /// 1-based line (0 if unknown).
    pub line: u32,
    /// 1-based column (0 if unknown).
    pub column: u32,
    /// The failure.
    pub failure: Failure,
}

impl std::fmt::Display for StaticError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}:{}: {}", self.line, self.column, self.failure)
    }
}
