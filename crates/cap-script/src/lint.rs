//! Checks of a program's meaning before it runs, each saying on its line what to write
//! instead (the repair prompt carries the message): a property or a coordinate of an
//! object name (`block.color`, `plate[0]`: names are strings), `find` of a description
//! several objects or none match, an object placed on itself, a number where an object
//! name goes or a name where a point goes, and one statement repeated many times in a
//! row (the degenerate loop of a small model).
//!
//! Only what is certain is flagged: a variable counts as an object name when it was
//! bound to `find(...)`, a string literal, or is the loop variable over `find_all(...)`
//! or `objects()`.

use std::collections::BTreeSet;

use cap_core::failure::FailureKind;
use cap_core::scene::Scene;
use cap_core::selection::{Measure, Selection, SelectionError};
use cap_core::vocabulary::words;
use rhai::{ASTNode, Expr, Stmt, AST};

use crate::api::{self, ParamType};
use crate::diagnostic::StaticError;

/// More than this many identical statements in a row is a degenerate program.
pub const MAX_REPEATS: usize = 5;

fn at(
    pos: rhai::Position,
    kind: FailureKind,
    message: String,
    object: Option<String>,
) -> StaticError {
    StaticError {
        fix: None,
        line: pos.line().unwrap_or(0) as u32,
        column: pos.position().unwrap_or(0) as u32,
        failure: cap_core::failure::Failure {
            kind,
            message,
            object,
        },
    }
}

/// `e` with the certain fix `from` → `to` on its own line.
fn with_fix(mut e: StaticError, from: String, to: String) -> StaticError {
    e.fix = Some(crate::diagnostic::FixIt {
        line: e.line,
        from,
        to,
    });
    e
}

/// The query to write for a property a program reads off an object name.
fn query_for(property: &str) -> Option<&'static str> {
    Some(match property {
        "color" | "colour" => "color",
        "position" | "pos" | "location" | "center" | "centre" => "position",
        "kind" | "type" | "shape" => "kind",
        "size" | "dimensions" | "extent" => "size",
        "pose" | "yaw" | "orientation" => "pose",
        _ => return None,
    })
}

/// The variables certainly holding an object name.
fn name_variables(ast: &AST) -> BTreeSet<String> {
    let mut vars = BTreeSet::new();
    ast.walk(&mut |path: &[ASTNode]| {
        match path.last() {
            Some(ASTNode::Stmt(Stmt::Var(v, ..))) => {
                let (ident, value, _) = v.as_ref();
                let is_name = match value {
                    Expr::StringConstant(..) => true,
                    Expr::FnCall(c, _) => c.name.as_str() == "find",
                    _ => false,
                };
                if is_name {
                    vars.insert(ident.name.to_string());
                }
            }
            Some(ASTNode::Stmt(Stmt::For(f, _))) => {
                let (var, _, flow) = f.as_ref();
                if let Expr::FnCall(c, _) = &flow.expr {
                    if matches!(c.name.as_str(), "find_all" | "objects") {
                        vars.insert(var.name.to_string());
                    }
                }
            }
            _ => {}
        }
        true
    });
    vars
}

fn variable_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Variable(v, _, _) => Some(v.1.to_string()),
        _ => None,
    }
}

/// Check `ast` (of `source`) against `scene`.
pub fn lint(ast: &AST, source: &str, scene: &Scene) -> Vec<StaticError> {
    let names = name_variables(ast);
    let nouns: Vec<&str> = scene
        .objects
        .iter()
        .filter(|o| o.mesh.is_some())
        .map(|o| o.noun())
        .collect();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let node = path.last();
        // `block.color`: a property of an object name.
        if let Some(ASTNode::Expr(Expr::Dot(bin, _, pos))) = node {
            if let (Some(var), Expr::Property(p, _)) = (variable_name(&bin.lhs), &bin.rhs) {
                if names.contains(&var) && seen.insert((pos.line(), var.clone())) {
                    let prop = p.2.as_str();
                    let instead = query_for(prop).map_or_else(
                        || "ask with a query: color(x), position(x), kind(x), size(x), pose(x)".to_owned(),
                        |q| format!("write {q}({var})"),
                    );
                    let mut e = at(
                        *pos,
                        FailureKind::InvalidArgument,
                        format!("`{var}.{prop}`: {var} is an object's name (a string), which has no `{prop}`; {instead}"),
                        None,
                    );
                    // Certain: the property names one query, applied to the name.
                    e.fix = query_for(prop).map(|q| crate::diagnostic::FixIt {
                        line: e.line,
                        from: format!("{var}.{prop}"),
                        to: format!("{q}({var})"),
                    });
                    out.push(e);
                }
            }
        }
        // `plate[0]`: a coordinate of an object name.
        if let Some(ASTNode::Expr(Expr::Index(bin, _, pos))) = node {
            if let (Some(var), Expr::IntegerConstant(i, _)) = (variable_name(&bin.lhs), &bin.rhs) {
                if names.contains(&var)
                    && (0..=2).contains(i)
                    && seen.insert((pos.line(), format!("{var}[{i}]")))
                {
                    let e = at(
                        *pos,
                        FailureKind::InvalidArgument,
                        format!("`{var}[{i}]`: {var} is an object's name (a string), not a point; its centre is position({var}), so write position({var})[{i}]"),
                        None,
                    );
                    // Certain: an axis index of a name means the object's coordinate.
                    out.push(with_fix(e, format!("{var}[{i}]"), format!("position({var})[{i}]")));
                }
            }
        }
        let (call, pos) = match node {
            Some(ASTNode::Expr(Expr::FnCall(c, pos))) | Some(ASTNode::Stmt(Stmt::FnCall(c, pos))) => (c, *pos),
            _ => return true,
        };
        let name = call.name.as_str();
        let Some(f) = api::get(name) else {
            return true;
        };
        if !seen.insert((pos.line(), format!("{name}{:?}", pos.position()))) {
            return true;
        }
        // A number where an object name goes.
        for (arg, param) in call.args.iter().zip(f.params.iter()) {
            if param.ty == ParamType::Object
                && matches!(arg, Expr::IntegerConstant(..) | Expr::FloatConstant(..))
            {
                out.push(at(
                    pos,
                    FailureKind::InvalidArgument,
                    format!("{name}: `{}` takes an object's name (a string such as \"red_block\"), not a number", param.name),
                    None,
                ));
            }
        }
        // An object's name where a point goes.
        for (arg, param) in call.args.iter().zip(f.params.iter()) {
            let named = match arg {
                Expr::StringConstant(s, _) if scene.object(s).is_some() => {
                    Some(format!("\"{s}\""))
                }
                other => variable_name(other).filter(|v| names.contains(v)),
            };
            if let (ParamType::Point, Some(x)) = (param.ty, named) {
                let placing = name.starts_with("place_");
                out.push(at(
                    pos,
                    FailureKind::InvalidArgument,
                    format!(
                        "{name}: `{}` takes a point [x, y, z], not an object's name {x}; {}",
                        param.name,
                        if placing {
                            format!("to put the held object on {x}, write place_on(held, {x})")
                        } else {
                            format!("a point of it is point({x}, \"top\") or position({x}) (its centre); pick({x}) and place_on(held, {x}) move to it by themselves")
                        }
                    ),
                    None,
                ));
            }
        }
        // An object placed on itself.
        if name == "place_on" && call.args.len() >= 2 {
            let same = match (&call.args[0], &call.args[1]) {
                (Expr::StringConstant(a, _), Expr::StringConstant(b, _)) => a == b,
                (a, b) => variable_name(a).is_some_and(|x| Some(x) == variable_name(b)),
            };
            if same {
                out.push(at(
                    pos,
                    FailureKind::InvalidArgument,
                    "place_on: an object cannot be placed on itself; the second argument is the target (place_on(block, plate))".into(),
                    None,
                ));
            }
        }
        // `find` of a description that several objects, or none, match.
        if name == "find" {
            if let Some(Expr::StringConstant(d, _)) = call.args.first() {
                let d = d.as_str();
                // Read as the simulation reads it (cap_core::selection), on the scene as
                // written: a superlative of where things are may pick another object once
                // the seed has moved them, so only its having none to pick is an error.
                let measure = |o: &cap_core::scene::ObjectSpec| Measure {
                    size: o.size_m.into(),
                    position: o.position_m.coords.into(),
                };
                let base = [scene.robot.base_m.x, scene.robot.base_m.y];
                let mut positional = false;
                let matches: Vec<String> = if scene.objects.iter().any(|o| o.name == d.trim()) {
                    vec![d.trim().to_owned()]
                } else {
                    match Selection::parse_words_with(&words(d), &nouns) {
                        Ok(sel) if sel.is_specific() => {
                            positional = sel.superlative.is_some_and(|s| s.is_positional());
                            match sel.select(&scene.objects, measure, base, &nouns) {
                                Ok(m) => m,
                                Err(e) => {
                                    out.push(at(
                                        pos,
                                        FailureKind::InvalidArgument,
                                        format!("find(\"{d}\"): {e}"),
                                        None,
                                    ));
                                    return true;
                                }
                            }
                        }
                        Err(
                            e @ (SelectionError::TwoSuperlatives(_)
                            | SelectionError::DanglingNot(_)),
                        ) => {
                            out.push(at(
                                pos,
                                FailureKind::InvalidArgument,
                                format!("find(\"{d}\"): {e}"),
                                None,
                            ));
                            return true;
                        }
                        _ => Vec::new(),
                    }
                };
                if matches.len() > 1 && !positional {
                    out.push(at(
                        pos,
                        FailureKind::InvalidArgument,
                        format!(
                            "find(\"{d}\") matches {} objects ({}), and find needs exactly one; for each of them write `for b in find_all(\"{d}\") {{ ... }}`, or name one (find(\"{}\"))",
                            matches.len(),
                            matches.join(", "),
                            scene.object(&matches[0]).map_or(matches[0].clone(), |o| o.description())
                        ),
                        None,
                    ));
                } else if matches.is_empty() {
                    out.push(at(
                        pos,
                        FailureKind::UnknownObject,
                        format!(
                            "find(\"{d}\") matches no object; objects are {}",
                            scene.object_names().join(", ")
                        ),
                        None,
                    ));
                }
            }
        }
        true
    });
    out.extend(repeated(source));
    out.extend(placed_unpicked(ast));
    out.sort_by_key(|e| (e.line, e.column));
    out
}

/// What names the object of a call: its string or its variable.
fn object_key(e: Option<&Expr>) -> Option<String> {
    match e? {
        Expr::StringConstant(s, _) => Some(format!("\"{s}\"")),
        other => variable_name(other),
    }
}

/// `place_on(x, ...)` / `place_at(x, ...)` with no `pick(x)` anywhere before it (and no
/// `close_gripper()`, which grasps by hand, and no function of the program's own, which
/// may pick): the program places what it never picked.
fn placed_unpicked(ast: &AST) -> Vec<StaticError> {
    if ast.iter_functions().next().is_some() {
        return Vec::new();
    }
    // (line, column, function, object, position, second argument) of every call, in
    // source order.
    type Call = (
        usize,
        usize,
        String,
        Option<String>,
        rhai::Position,
        Option<String>,
    );
    let mut calls: Vec<Call> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Expr(Expr::FnCall(c, pos)) | ASTNode::Stmt(Stmt::FnCall(c, pos))) =
            path.last()
        {
            let f = c.name.as_str();
            if matches!(f, "pick" | "place_on" | "place_at" | "close_gripper") {
                calls.push((
                    pos.line().unwrap_or(0),
                    pos.position().unwrap_or(0),
                    f.to_owned(),
                    object_key(c.args.first()),
                    *pos,
                    object_key(c.args.get(1)),
                ));
            }
        }
        true
    });
    calls.sort_by_key(|c| (c.0, c.1));
    calls.dedup_by_key(|c| (c.0, c.1));
    let mut out = Vec::new();
    for (i, (_, _, f, key, pos, second)) in calls.iter().enumerate() {
        let Some(key) = key.as_ref().filter(|_| f.starts_with("place_")) else {
            continue;
        };
        let before = &calls[..i];
        let grasped = before
            .iter()
            .any(|c| c.2 == "close_gripper" || (c.2 == "pick" && c.3.as_ref() == Some(key)));
        if grasped {
            continue;
        }
        // `pick(b); place_on(a, b)`: the arguments swapped, certainly.
        let held = before
            .iter()
            .rev()
            .find(|c| c.2 == "pick")
            .and_then(|c| c.3.as_ref());
        let swapped = f == "place_on" && second.is_some() && held == second.as_ref();
        match (swapped, second) {
            (true, Some(b)) => {
                let e = at(
                    *pos,
                    FailureKind::WrongOrder,
                    format!("{f}({key}, {b}) places {key} on {b}, but the program holds {b}: the object held goes first, write {f}({b}, {key})"),
                    None,
                );
                out.push(with_fix(e, format!("{f}({key}, {b})"), format!("{f}({b}, {key})")));
            }
            _ => out.push(at(
                *pos,
                FailureKind::WrongOrder,
                format!("{f}({key}, ...) places {key}, which the program has not picked before this line: pick({key}) first"),
                None,
            )),
        }
    }
    out
}

/// Runs of more than [`MAX_REPEATS`] identical statements (lines), one error each.
fn repeated(source: &str) -> Vec<StaticError> {
    let mut out = Vec::new();
    let lines: Vec<&str> = source.lines().map(str::trim).collect();
    let mut i = 0;
    while i < lines.len() {
        let mut j = i + 1;
        while j < lines.len() && lines[j] == lines[i] {
            j += 1;
        }
        let n = j - i;
        if n > MAX_REPEATS && !lines[i].is_empty() && lines[i] != "}" {
            out.push(StaticError {
                fix: None,
                line: i as u32 + 1,
                column: 1,
                failure: cap_core::failure::Failure {
                    kind: FailureKind::InvalidArgument,
                    message: format!(
                        "`{}` is repeated {n} times in a row (lines {}-{}): write it once, or loop over what changes (`for b in find_all(\"block\") {{ ... }}`)",
                        lines[i],
                        i + 1,
                        j
                    ),
                    object: None,
                },
            });
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{engine, Limits};

    fn lints(src: &str) -> Vec<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenes/tabletop.toml");
        let scene = Scene::load(path).unwrap_or_else(|e| panic!("{e}"));
        let e = engine(&Limits::default());
        let ast = e.compile(src).unwrap_or_else(|e| panic!("{e}"));
        lint(&ast, src, &scene)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn an_object_name_where_a_point_goes_is_caught_before_it_runs() {
        let e = lints("pick(\"red_block\");\nmove_to(\"blue_plate\");\nplace_on(\"red_block\", \"blue_plate\");");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("line 2:"), "{}", e[0]);
        assert!(
            e[0].contains("takes a point [x, y, z], not an object's name \"blue_plate\""),
            "{}",
            e[0]
        );
        let e = lints("let plate = find(\"blue plate\");\npick(\"red_block\");\nplace_at(\"red_block\", plate);");
        assert!(e[0].contains("write place_on(held, plate)"), "{e:?}");
        // A string that names nothing is left to the run's type error.
        assert!(lints("move_to(\"up\");").is_empty());
        // Points are fine, however they are made.
        assert!(lints(
            "move_to(point(\"blue_plate\", \"top\"));\nlet p = [0.4, 0.0, 0.2];\nmove_to(p);"
        )
        .is_empty());
    }

    #[test]
    fn coordinates_of_an_object_name_are_fixed_to_its_position() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenes/tabletop.toml");
        let scene = Scene::load(path).unwrap_or_else(|e| panic!("{e}"));
        let src = "let plate = find(\"blue plate\");\npick(\"red_block\");\nplace_at(\"red_block\", [plate[0] + 0.05, plate[1], plate[2]]);";
        let ast = engine(&Limits::default())
            .compile(src)
            .unwrap_or_else(|e| panic!("{e}"));
        let e = lint(&ast, src, &scene);
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].failure.message.contains("write position(plate)[0]"),
            "{}",
            e[0]
        );
        let (fixed, applied) =
            crate::diagnostic::apply_fixits(src, &e).unwrap_or_else(|| panic!("no fix"));
        assert_eq!(applied.len(), 3);
        assert!(
            fixed
                .ends_with("[position(plate)[0] + 0.05, position(plate)[1], position(plate)[2]]);"),
            "{fixed}"
        );
        // An array of numbers is indexed as it should be.
        assert!(lints("let p = [0.4, 0.1, 0.0];\nlet x = p[0];").is_empty());
    }

    #[test]
    fn swapped_place_on_arguments_are_fixed_with_certainty() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenes/tabletop.toml");
        let scene = Scene::load(path).unwrap_or_else(|e| panic!("{e}"));
        let src = "pick(\"red_block\");\nplace_on(\"blue_plate\", \"red_block\");";
        let ast = engine(&Limits::default())
            .compile(src)
            .unwrap_or_else(|e| panic!("{e}"));
        let e = lint(&ast, src, &scene);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].to_string()
                .contains("the program holds \"red_block\": the object held goes first"),
            "{e:?}"
        );
        let (fixed, _) =
            crate::diagnostic::apply_fixits(src, &e).unwrap_or_else(|| panic!("no fix"));
        assert_eq!(
            fixed,
            "pick(\"red_block\");\nplace_on(\"red_block\", \"blue_plate\");"
        );
        // Held is not the second argument: no certain fix.
        let src = "pick(\"green_block\");\nplace_on(\"blue_plate\", \"red_block\");";
        let ast = engine(&Limits::default())
            .compile(src)
            .unwrap_or_else(|e| panic!("{e}"));
        let e = lint(&ast, src, &scene);
        assert!(e.len() == 1 && e[0].fix.is_none(), "{e:?}");
    }

    #[test]
    fn each_check_says_what_to_write_instead_on_its_line() {
        let e = lints("let b = find(\"red block\");\nlet c = b.color;\nplace_on(b, b);");
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[2].contains("pick(b) first"), "{e:?}");
        assert!(
            e[0].starts_with("line 2:") && e[0].contains("write color(b)"),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("line 3:") && e[1].contains("placed on itself"),
            "{e:?}"
        );
        let e = lints("for b in find_all(\"block\") { say(b.position); }");
        assert!(e.len() == 1 && e[0].contains("write position(b)"), "{e:?}");
        let e = lints("let b = find(\"block\");");
        assert!(
            e.len() == 1
                && e[0].contains("matches 3 objects")
                && e[0].contains("for b in find_all(\"block\")"),
            "{e:?}"
        );
        let e = lints("let d = find(\"dragon\");");
        assert!(e.len() == 1 && e[0].contains("matches no object"), "{e:?}");
        let e = lints("pick(3);");
        assert!(e.len() == 1 && e[0].contains("not a number"), "{e:?}");
        let e = lints("let b = find(\"red block\");\nplace_on(b, \"blue_plate\");");
        assert!(
            e.len() == 1 && e[0].starts_with("line 2:") && e[0].contains("pick(b) first"),
            "{e:?}"
        );
        let e = lints("pick(\"green_block\");\nplace_on(\"red_block\", \"blue_plate\");");
        assert!(
            e.len() == 1 && e[0].contains("pick(\"red_block\") first"),
            "{e:?}"
        );
        let rep = "say(\"x\");\n".repeat(7);
        let e = lints(&rep);
        assert!(e.len() == 1 && e[0].contains("repeated 7 times"), "{e:?}");
    }

    #[test]
    fn what_is_right_is_not_flagged() {
        for src in [
            "let b = find(\"red block\"); pick(b); place_on(b, \"blue_plate\");",
            "let p = pose(\"red_block\"); say(`${p.yaw}`);",
            "let q = position(\"red_block\"); move_to([q[0], q[1], q[2] + 0.1]);",
            "for b in find_all(\"block\") { pick(b); place_on(b, \"blue_plate\"); }",
            &"say(\"x\");\n".repeat(5),
            "let m = #{color: 1}; say(`${m.color}`);",
            "try { pick(\"red_block\"); } catch (e) { say(e.message); }\nplace_on(\"red_block\", \"blue_plate\");",
            "move_to(position(\"red_block\")); close_gripper(); place_on(\"red_block\", \"blue_plate\");",
            "fn take(o) { pick(o) }\ntake(\"red_block\"); place_on(\"red_block\", \"blue_plate\");",
        ] {
            assert!(lints(src).is_empty(), "{src}: {:?}", lints(src));
        }
    }
}
