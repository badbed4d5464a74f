//! Repairs that dropped `let` lines: a small model often rewrites only the lines it
//! fixes, so the repaired program uses a variable only the program it repairs defined
//! (`plate` is used before it is defined). Such a definition, on one top-level line
//! `let plate = find("blue plate");` of the program being repaired, is carried over to
//! the top of the repair, in the order that program had it, and the result checked again.

use cap_core::failure::FailureKind;
use cap_script::StaticError;

/// Most definitions carried into one program.
const MOST: usize = 16;

/// The variable an error says is used before it is defined.
fn undefined(e: &StaticError) -> Option<&str> {
    if e.failure.kind != FailureKind::ParseError {
        return None;
    }
    let m = e.failure.message.strip_prefix('`')?;
    let (name, rest) = m.split_once('`')?;
    rest.starts_with(" is used before it is defined")
        .then_some(name)
}

/// The top-level one-line definitions of `program`: (line index, name, line).
fn definitions(program: &str) -> Vec<(usize, String, String)> {
    program
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            // Top level only: a definition inside a block belongs to that block.
            if l.starts_with(char::is_whitespace) {
                return None;
            }
            let rest = l.strip_prefix("let ")?;
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let after = rest[name.len()..].trim_start();
            (!name.is_empty() && after.starts_with('=') && l.trim_end().ends_with(';'))
                .then(|| (i, name, l.trim_end().to_owned()))
        })
        .collect()
}

/// `program` with the definitions it lacks carried over from `previous`, and the lines
/// carried; `check` gives a program's static errors. Unchanged when nothing can be
/// carried.
pub fn carry_lets(
    program: &str,
    previous: &str,
    check: impl Fn(&str) -> Vec<StaticError>,
) -> (String, Vec<String>) {
    let defs = definitions(previous);
    let mut carried: Vec<usize> = Vec::new();
    let mut current = program.to_owned();
    for _ in 0..MOST {
        let errors = check(&current);
        let Some(name) = errors.iter().find_map(undefined) else {
            break;
        };
        let Some((i, _, _)) = defs
            .iter()
            .find(|(i, n, _)| n == name && !carried.contains(i))
        else {
            break;
        };
        carried.push(*i);
        carried.sort_unstable();
        let head: Vec<&str> = carried
            .iter()
            .filter_map(|c| defs.iter().find(|d| d.0 == *c).map(|d| d.2.as_str()))
            .collect();
        current = format!("{}\n{program}", head.join("\n"));
    }
    if carried.is_empty() {
        return (program.to_owned(), Vec::new());
    }
    let lines = carried
        .iter()
        .filter_map(|c| defs.iter().find(|d| d.0 == *c))
        .map(|d| format!("carried `{}` over from the program being repaired", d.2))
        .collect();
    (current, lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_core::scene::Scene;

    fn check(src: &str) -> Vec<StaticError> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenes/tabletop.toml");
        let scene = Scene::load(path).unwrap_or_else(|e| panic!("{e}"));
        let engine = cap_script::sandbox::engine(&cap_script::sandbox::Limits::default());
        cap_script::check_program(&engine, src, &scene)
            .err()
            .unwrap_or_default()
    }

    const BEFORE: &str = "let block = find(\"red block\");\nlet plate = find(\"blue plate\");\nfor b in find_all(\"block\") {\n    let t = 1;\n}\npick(block);\nplace_at(block, [0.6, 0.0, 0.02]);";

    #[test]
    fn the_definitions_a_repair_dropped_come_back_in_their_order() {
        let repair = "pick(block);\nplace_on(block, plate);";
        let (p, carried) = carry_lets(repair, BEFORE, check);
        assert_eq!(
            p,
            "let block = find(\"red block\");\nlet plate = find(\"blue plate\");\npick(block);\nplace_on(block, plate);"
        );
        assert_eq!(carried.len(), 2);
        assert!(
            carried[0].contains("let block = find(\"red block\");"),
            "{carried:?}"
        );
        assert!(check(&p).is_empty());
    }

    #[test]
    fn nothing_is_carried_that_the_repaired_program_did_not_define_at_top_level() {
        for repair in ["pick(t);", "pick(\"red_block\");", "pick(nowhere);"] {
            let (p, carried) = carry_lets(repair, BEFORE, check);
            assert_eq!(p, repair);
            assert!(carried.is_empty());
        }
    }
}
