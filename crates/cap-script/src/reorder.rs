//! A certain reordering: "pick A, pick B, place A, place B". The gripper holds one object
//! at a time, so `pick(B)` while A is held fails at run time (`wrong_order`), and the
//! only reading that keeps every statement is to place A before picking B. Small models
//! write this shape for "put the red and the blue blocks on the plate" and often keep it
//! through repairs; cap moves the placement up itself and says so.
//!
//! Only straight-line, top-level code is moved (lines that start at column 0), and only
//! when nothing but monitoring (`subgoal`, `checkpoint`, `say`), comments, blank lines
//! and other `pick`s stand between the second `pick` and the placement: a `move_to` or
//! a loop there could mean something else, and is left to a repair.

/// Most placements moved in one program.
const MOST: usize = 8;

/// What a top-level line does, for this purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    /// `pick(x...)`: the object's argument as written.
    Pick(String),
    /// `place_on(x, ...)` / `place_at(x, ...)`.
    Place(String),
    /// `subgoal(...)`.
    Subgoal,
    /// `checkpoint(...)` or `say(...)`.
    Monitor,
    /// Blank or a comment.
    Blank,
    /// Anything else, or any line inside a block.
    Other,
}

/// The first argument of `call(` at the start of `line`, as written.
fn first_arg<'a>(line: &'a str, call: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(call)?.strip_prefix('(')?;
    let end = rest.find([',', ')'])?;
    let arg = rest[..end].trim();
    (!arg.is_empty()).then_some(arg)
}

fn classify(line: &str) -> Line {
    if line.trim().is_empty() || line.trim_start().starts_with("//") {
        return Line::Blank;
    }
    if !line.trim_end().ends_with(';') {
        return Line::Other;
    }
    if let Some(a) = first_arg(line, "pick") {
        return Line::Pick(a.to_owned());
    }
    if let Some(a) = first_arg(line, "place_on").or_else(|| first_arg(line, "place_at")) {
        return Line::Place(a.to_owned());
    }
    if line.starts_with("subgoal(") {
        return Line::Subgoal;
    }
    if line.starts_with("checkpoint(") || line.starts_with("say(") {
        return Line::Monitor;
    }
    Line::Other
}

/// Where the step of line `i` starts: the `subgoal` directly above it (blank lines and
/// comments between allowed), else `i`.
fn step_start(kinds: &[Line], i: usize, floor: usize) -> usize {
    let mut j = i;
    while j > floor {
        match kinds[j - 1] {
            Line::Blank => j -= 1,
            Line::Subgoal => return j - 1,
            _ => break,
        }
    }
    i
}

/// One move: (the program's lines after it, what was moved).
fn one_move(lines: &[String]) -> Option<(Vec<String>, String)> {
    let kinds: Vec<Line> = lines.iter().map(|l| classify(l)).collect();
    // A block anywhere (a loop, a branch, a function; an options map `#{...}` is not
    // one) makes the program not straight.
    let blocks = lines.iter().any(|l| {
        let code = l.split("//").next().unwrap_or("").replace("#{", "");
        code.contains('{')
            || code.contains('}')
            || (l.starts_with(char::is_whitespace) && !l.trim().is_empty())
    });
    if blocks {
        return None;
    }
    let mut held: Option<&str> = None;
    for (j, k) in kinds.iter().enumerate() {
        match k {
            Line::Place(_) => held = None,
            Line::Pick(b) => {
                let Some(a) = held else {
                    held = Some(b);
                    continue;
                };
                if a == b {
                    continue;
                }
                // The placement of `a` after this pick, with only monitoring, blank
                // lines and picks between.
                let k = (j + 1..kinds.len()).find(|&k| kinds[k] == Line::Place(a.to_owned()))?;
                let between_ok = kinds[j + 1..k].iter().all(|t| {
                    matches!(
                        t,
                        Line::Blank | Line::Subgoal | Line::Monitor | Line::Pick(_)
                    )
                });
                if !between_ok {
                    return None;
                }
                // The step moved: its subgoal, the placement, the checkpoints after it.
                let from = step_start(&kinds, k, j + 1);
                let mut to = k + 1;
                while to < kinds.len() && kinds[to] == Line::Monitor {
                    to += 1;
                }
                let at = step_start(&kinds, j, 0);
                let mut out: Vec<String> = lines[..at].to_vec();
                out.extend_from_slice(&lines[from..to]);
                out.push(String::new());
                out.extend_from_slice(&lines[at..from]);
                out.extend_from_slice(&lines[to..]);
                let said = format!(
                    "moved `{}` (line {}) above line {}: the gripper holds one object at a time, and pick({b}) came while {a} was held",
                    lines[k].trim(),
                    k + 1,
                    at + 1
                );
                return Some((out, said));
            }
            _ => {}
        }
    }
    None
}

/// `program` with each placement of a held object moved above the `pick` of the next
/// object, and a note for each move; `None` when nothing moves.
pub fn place_before_next_pick(program: &str) -> Option<(String, Vec<String>)> {
    let mut lines: Vec<String> = program.lines().map(str::to_owned).collect();
    let mut said = Vec::new();
    for _ in 0..MOST {
        let Some((next, note)) = one_move(&lines) else {
            break;
        };
        lines = next;
        said.push(note);
    }
    if said.is_empty() {
        return None;
    }
    let mut out = lines.join("\n");
    if program.ends_with('\n') {
        out.push('\n');
    }
    Some((out, said))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const BOTH_THEN_BOTH: &str = "// Put the red and the blue blocks on the white plate.
subgoal(\"pick up the red block\");
pick(\"red_block\");
checkpoint(\"the red block is in the gripper\");

subgoal(\"pick up the blue block\");
pick(\"blue_block\");
checkpoint(\"the blue block is in the gripper\");

subgoal(\"place the red block on the white plate\");
place_on(\"red_block\", \"white_plate\");
checkpoint(\"the red block is on the white plate\");

subgoal(\"place the blue block on the white plate\");
place_on(\"blue_block\", \"white_plate\");
checkpoint(\"the blue block is on the white plate\");
home();
";

    #[test]
    fn a_placement_moves_above_the_next_pick_with_its_step() {
        let (out, said) = place_before_next_pick(BOTH_THEN_BOTH).unwrap();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("(line 11) above line 6"), "{}", said[0]);
        let order: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("pick") || l.starts_with("place"))
            .collect();
        assert_eq!(
            order,
            [
                "pick(\"red_block\");",
                "place_on(\"red_block\", \"white_plate\");",
                "pick(\"blue_block\");",
                "place_on(\"blue_block\", \"white_plate\");"
            ]
        );
        // Its subgoal and checkpoint went with it; nothing was lost or doubled.
        let place = out.find("place_on(\"red_block\"").unwrap();
        let sub = out.find("subgoal(\"place the red block").unwrap();
        let check = out.find("checkpoint(\"the red block is on").unwrap();
        let pick_blue = out.find("pick(\"blue_block\")").unwrap();
        assert!(sub < place && place < check && check < pick_blue, "{out}");
        let mut a: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
        let mut b: Vec<&str> = BOTH_THEN_BOTH.lines().filter(|l| !l.is_empty()).collect();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
    }

    #[test]
    fn three_picks_then_three_placements_are_interleaved() {
        let src =
            "pick(a);\npick(b);\npick(c);\nplace_on(a, t);\nplace_on(b, a);\nplace_on(c, b);\n";
        let (out, said) = place_before_next_pick(src).unwrap();
        assert_eq!(said.len(), 2);
        let code: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(
            code,
            [
                "pick(a);",
                "place_on(a, t);",
                "pick(b);",
                "place_on(b, a);",
                "pick(c);",
                "place_on(c, b);"
            ]
        );
    }

    #[test]
    fn anything_uncertain_is_left_alone() {
        for src in [
            // Already in order.
            "pick(a);\nplace_on(a, t);\npick(b);\nplace_on(b, t);\n",
            // A motion between: it may be meant for the placement.
            "pick(a);\npick(b);\nmove_to([0.4, 0.0, 0.2]);\nplace_on(a, t);\nplace_on(b, t);\n",
            // A loop.
            "for x in xs {\n    pick(x);\n}\npick(a);\npick(b);\nplace_on(a, t);\n",
            // The held object is never placed.
            "pick(a);\npick(b);\nplace_on(b, t);\n",
        ] {
            assert_eq!(place_before_next_pick(src), None, "{src}");
        }
    }
}
