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
    /// An edit that certainly fixes it, when there is one.
    pub fix: Option<FixIt>,
}

/// An edit that fixes a static error with certainty: `from` becomes `to` on `line`
/// (`block.colour` becomes `color(block)`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FixIt {
    /// 1-based line.
    pub line: u32,
    /// The text as written.
    pub from: String,
    /// What to write instead.
    pub to: String,
}

impl std::fmt::Display for FixIt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: `{}` -> `{}`", self.line, self.from, self.to)
    }
}

/// The byte offsets where `needle` occurs in `line` as a whole expression: not
/// preceded by an identifier character or a `.`, not followed by one.
fn whole_matches(line: &str, needle: &str) -> Vec<usize> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    line.match_indices(needle)
        .map(|(i, _)| i)
        .filter(|&i| {
            let before = line[..i].chars().next_back();
            let after = line[i + needle.len()..].chars().next();
            !before.is_some_and(|c| ident(c) || c == '.') && !after.is_some_and(ident)
        })
        .collect()
}

/// Apply the fix-its of `errors` to `source` when every error has one and each `from`
/// occurs exactly once, as a whole expression, on its line: the fixed source and the
/// fix-its applied. Anything less certain is left to a repair (`None`).
pub fn apply_fixits(source: &str, errors: &[StaticError]) -> Option<(String, Vec<FixIt>)> {
    if errors.is_empty() {
        return None;
    }
    let fixes: Vec<&FixIt> = errors
        .iter()
        .map(|e| e.fix.as_ref())
        .collect::<Option<_>>()?;
    let mut lines: Vec<String> = source.split('\n').map(str::to_owned).collect();
    for f in &fixes {
        let line = lines.get_mut((f.line as usize).checked_sub(1)?)?;
        let [at] = whole_matches(line, &f.from)[..] else {
            return None;
        };
        line.replace_range(at..at + f.from.len(), &f.to);
    }
    Some((lines.join("\n"), fixes.into_iter().cloned().collect()))
}

impl std::fmt::Display for StaticError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}:{}: {}", self.line, self.column, self.failure)
    }
}

#[cfg(test)]
mod fixit_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use cap_core::failure::FailureKind;

    fn error(line: u32, fix: Option<(&str, &str)>) -> StaticError {
        StaticError {
            line,
            column: 1,
            failure: Failure::new(FailureKind::InvalidArgument, "x"),
            fix: fix.map(|(from, to)| FixIt {
                line,
                from: from.into(),
                to: to.into(),
            }),
        }
    }

    #[test]
    fn a_certain_fix_is_applied_on_its_line_only() {
        let src =
            "let block = find(\"red block\");\nsay(block.colour);\nsay(block.colour + \"!\");";
        let (fixed, applied) =
            apply_fixits(src, &[error(2, Some(("block.colour", "color(block)")))]).unwrap();
        assert_eq!(
            fixed,
            "let block = find(\"red block\");\nsay(color(block));\nsay(block.colour + \"!\");"
        );
        assert_eq!(
            applied[0].to_string(),
            "line 2: `block.colour` -> `color(block)`"
        );
    }

    #[test]
    fn anything_uncertain_is_left_alone() {
        let fix = Some(("block.colour", "color(block)"));
        // Twice on the line, or not as a whole expression, or an error with no fix.
        assert!(apply_fixits("say(block.colour + block.colour);", &[error(1, fix)]).is_none());
        assert!(apply_fixits("say(myblock.colour);", &[error(1, fix)]).is_none());
        assert!(apply_fixits("say(a.block.colour);", &[error(1, fix)]).is_none());
        assert!(apply_fixits("say(block.colour);\nx", &[error(1, fix), error(2, None)]).is_none());
        assert!(apply_fixits("say(block.colour);", &[error(5, fix)]).is_none());
        assert!(apply_fixits("say(block.colour);", &[]).is_none());
    }
}
