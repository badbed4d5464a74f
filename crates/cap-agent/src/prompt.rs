//! Prompt templates (`prompts/`): embedded defaults, a directory of the user's own,
//! and the scene facts and reports that fill them.

use std::path::Path;

use cap_sim::prelude::*;

/// The templates.
#[derive(Debug, Clone)]
pub struct Prompts {
    /// System message; `{{api}}`.
    pub system: String,
    /// Few-shot examples.
    pub examples: String,
    /// First request; `{{examples}}`, `{{scene}}`, `{{instruction}}`.
    pub task: String,
    /// Repair request.
    pub repair: String,
    /// Helper definition request.
    pub helper: String,
    /// Plan request (plan, then code); `{{scene}}`, `{{instruction}}`.
    pub plan: String,
}

impl Default for Prompts {
    fn default() -> Self {
        Self {
            system: include_str!("../../../prompts/system.md").into(),
            examples: include_str!("../../../prompts/examples.md").into(),
            task: include_str!("../../../prompts/task.md").into(),
            repair: include_str!("../../../prompts/repair.md").into(),
            helper: include_str!("../../../prompts/helper.md").into(),
            plan: include_str!("../../../prompts/plan.md").into(),
        }
    }
}

impl Prompts {
    /// Read `system.md`, `examples.md`, `task.md`, `repair.md`, `helper.md`, `plan.md` from `dir`;
    /// a missing file keeps the embedded default.
    pub fn from_dir(dir: &Path) -> std::io::Result<Self> {
        if !dir.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} is not a directory", dir.display()),
            ));
        }
        let mut p = Self::default();
        for (name, slot) in [
            ("system.md", &mut p.system),
            ("examples.md", &mut p.examples),
            ("task.md", &mut p.task),
            ("repair.md", &mut p.repair),
            ("helper.md", &mut p.helper),
            ("plan.md", &mut p.plan),
        ] {
            let path = dir.join(name);
            if path.is_file() {
                *slot = std::fs::read_to_string(&path)?;
            }
        }
        Ok(p)
    }
}

/// Replace `{{key}}` placeholders.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (k, v) in values {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}

/// The scene facts a model is shown: every object with kind, colour, size, position and
/// functional points.
pub fn scene_facts(world: &World) -> String {
    let mut s =
        String::from("Objects (name: kind, colour, size [x, y, z] m, centre [x, y, z] m):\n");
    for o in world.object_states() {
        let spec = world.scene().object(&o.name);
        let (kind, color) = spec.map_or(("?", "?".to_owned()), |sp| {
            (sp.kind.noun(), sp.color.clone())
        });
        let p = o.position();
        let top = world.point(&o.name, Which::Top).unwrap_or(p);
        s.push_str(&format!(
            "- {}: {kind}, {color}, [{:.3}, {:.3}, {:.3}], at [{:.3}, {:.3}, {:.3}], top at z = {:.3}\n",
            o.name, o.size_m.x, o.size_m.y, o.size_m.z, p.x, p.y, p.z, top.z
        ));
    }
    let region = world.reachable_region();
    let reach = region.reach;
    s.push_str(&format!(
        "Reach: the gripper reaches straight down only between {:.2} and {:.2} m (horizontally) from the robot base at [{:.2}, {:.2}]; on this table that is within x {:.2}..{:.2}, y {:.2}..{:.2}. The table's corners are out of reach: use table_point(\"top left corner\") and the like for places near its corners and sides, and reachable(pos) to test a point.\n",
        reach.min_radius_m,
        reach.max_radius_m,
        reach.base_xy_m[0],
        reach.base_xy_m[1],
        region.x_m[0],
        region.x_m[1],
        region.y_m[0],
        region.y_m[1],
    ));
    if !world.robot().is_builtin() {
        s.push_str(&format!(
            "Arm: {}\n",
            cap_script::robot_facts::arm_sentence(world.robot())
        ));
    }
    s
}

/// The steps of a plan reply: its numbered or bulleted lines, else the `subgoal("...")`
/// texts of a program it wrote anyway; at most 8.
pub fn extract_plan(reply: &str) -> Vec<String> {
    let mut steps: Vec<String> = reply
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l
                .strip_prefix("- ")
                .or_else(|| l.strip_prefix("* "))
                .or_else(|| {
                    let digits = l.find(|c: char| !c.is_ascii_digit())?;
                    (digits > 0)
                        .then(|| {
                            l[digits..]
                                .strip_prefix(". ")
                                .or_else(|| l[digits..].strip_prefix(") "))
                        })
                        .flatten()
                })?;
            let step = rest.trim();
            (!step.is_empty()).then(|| step.to_owned())
        })
        .collect();
    if steps.is_empty() {
        let mut rest = reply;
        while let Some(i) = rest.find("subgoal(") {
            let after = &rest[i + 8..];
            let quote = after.chars().next().filter(|c| matches!(c, '"' | '`'));
            if let Some(q) = quote {
                if let Some(end) = after[1..].find(q) {
                    steps.push(after[1..=end].to_owned());
                }
            }
            rest = after;
        }
    }
    steps.truncate(8);
    steps
}

/// A program with line numbers, as repair prompts show it.
pub fn numbered(program: &str) -> String {
    program
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{:>3} | {l}", i + 1))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The program in a model's reply: the first ```rhai (or plain ```) block, else the
/// whole reply.
pub fn extract_program(reply: &str) -> String {
    let mut blocks = Vec::new();
    let mut rest = reply;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let body_start = after.find('\n').map_or(after.len(), |i| i + 1);
        let lang = after[..body_start].trim();
        let body = &after[body_start..];
        let Some(end) = body.find("```") else {
            blocks.push((lang.to_owned(), body.to_owned()));
            break;
        };
        blocks.push((lang.to_owned(), body[..end].to_owned()));
        rest = &body[end + 3..];
    }
    blocks
        .iter()
        .find(|(l, _)| l == "rhai" || l == "rust")
        .or_else(|| blocks.first())
        .map_or_else(|| reply.trim().to_owned(), |(_, b)| b.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_come_out_of_fences() {
        assert_eq!(
            extract_program("Sure:\n```rhai\npick(\"a\");\n```\nDone."),
            "pick(\"a\");"
        );
        assert_eq!(extract_program("```\nhome();\n```"), "home();");
        assert_eq!(
            extract_program("```python\nx\n```\n```rhai\nhome();\n```"),
            "home();"
        );
        assert_eq!(extract_program("home();"), "home();");
        assert_eq!(
            extract_program("```rhai\nhome();"),
            "home();",
            "unterminated fence"
        );
    }

    #[test]
    fn plans_come_out_of_lists_or_subgoals() {
        assert_eq!(
            extract_plan("Steps:\n1. pick up the red block\n2) put it on the `blue plate`\n\nDone"),
            ["pick up the red block", "put it on the `blue plate`"]
        );
        assert_eq!(extract_plan("- a\n* b"), ["a", "b"]);
        assert_eq!(
            extract_plan("```rhai\nsubgoal(\"pick the red block\");\npick(\"red_block\");\nsubgoal(`place ${b}`);\n```"),
            ["pick the red block", "place ${b}"]
        );
        assert!(extract_plan("I cannot help with that.").is_empty());
        assert_eq!(extract_plan(&"1. x\n".repeat(20)).len(), 8);
    }

    #[test]
    fn placeholders_fill() {
        assert_eq!(
            fill("a {{x}} b {{y}} {{x}}", &[("x", "1"), ("y", "2")]),
            "a 1 b 2 1"
        );
    }
}
