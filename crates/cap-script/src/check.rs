//! The static checker: everything that can be known about a program before it runs.
//!
//! Parse errors, calls of unknown functions, calls with the wrong number of arguments
//! and string literals naming objects the scene lacks are reported with their line
//! and column; nothing is executed.

use std::collections::{BTreeMap, BTreeSet};

use cap_core::failure::{Failure, FailureKind};
use cap_core::scene::Scene;
use rhai::{ASTNode, Engine, Expr, Position, Stmt, AST};

use crate::api::{self, ParamType};

pub use crate::diagnostic::StaticError;

/// Functions rhai itself provides as keywords or engine built-ins (not in packages).
const KEYWORD_FNS: &[&str] = &[
    "print",
    "debug",
    "type_of",
    "Fn",
    "call",
    "curry",
    "is_def_var",
    "is_def_fn",
    "is_shared",
    "this",
];

/// Arities of the standard package's functions, computed once per process (generating
/// the signatures costs ~1 ms, more than running a short program).
fn builtin_arities() -> &'static BTreeMap<String, BTreeSet<usize>> {
    static ARITIES: std::sync::OnceLock<BTreeMap<String, BTreeSet<usize>>> =
        std::sync::OnceLock::new();
    ARITIES.get_or_init(|| arities_of(&crate::sandbox::engine(&crate::sandbox::Limits::default())))
}

fn arities_of(engine: &Engine) -> BTreeMap<String, BTreeSet<usize>> {
    let mut out: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for sig in engine.gen_fn_signatures(true) {
        // "name(a: T, b: U) -> R" — name and parameter count are what matter here.
        let Some(open) = sig.find('(') else { continue };
        let name = sig[..open]
            .trim()
            .trim_start_matches("get$")
            .trim_start_matches("set$")
            .to_owned();
        let Some(close) = sig.rfind(')') else {
            continue;
        };
        let inner = sig[open + 1..close].trim();
        let n = if inner.is_empty() {
            0
        } else {
            count_params(inner)
        };
        out.entry(name).or_default().insert(n);
    }
    out
}

fn count_params(inner: &str) -> usize {
    // Commas at bracket depth 0 separate parameters ("a: Array, f: FnPtr").
    let mut depth = 0i32;
    let mut n = 1;
    for c in inner.chars() {
        match c {
            '(' | '[' | '<' => depth += 1,
            ')' | ']' | '>' => depth -= 1,
            ',' if depth == 0 => n += 1,
            _ => {}
        }
    }
    n
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

fn suggest(name: &str, candidates: impl Iterator<Item = String>) -> String {
    let best = candidates.map(|c| (edit_distance(name, &c), c)).min();
    match best {
        Some((d, c)) if d <= 3 => format!("; did you mean `{c}`?"),
        _ => String::new(),
    }
}

/// What to write instead of a closure in another language's form on `line`
/// (`list.max_by_key || size`, `lambda b: ...`), or nothing.
fn closure_hint(source: &str, line: usize) -> &'static str {
    let Some(text) = line.checked_sub(1).and_then(|i| source.lines().nth(i)) else {
        return "";
    };
    let method_then_bars = text.split('.').skip(1).any(|after| {
        let rest = after.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_');
        rest.len() < after.len() && rest.trim_start().starts_with('|')
    });
    if method_then_bars || text.contains("lambda ") {
        "; rhai writes a closure inside the call's parentheses, as `find_all(\"block\").filter(|b| color(b) != \"red\")`, and a description can select by itself: find(\"biggest block\"), find_all(\"blocks that are not red\")"
    } else {
        ""
    }
}

/// The closure a placeholder form stands for, as a certain fix:
/// `list.filter || color(_) != "red";` is `list.filter(|n| color(n) != "red");` (the
/// `_` of Scala and Kotlin). Only for rhai's array methods that take one closure, with
/// the rest of the line (to its `;`) as the body, one `||` and at least one `_`.
///
/// With `undefined` (the parse error's undefined variable), a closure that forgot its
/// parameter is the same case: `objects().filter || kind(n) == "bowl";` is
/// `objects().filter(|n| kind(n) == "bowl");` when the body uses `n`.
fn placeholder_closure(
    source: &str,
    line: usize,
    undefined: Option<&str>,
) -> Option<crate::diagnostic::FixIt> {
    let text = source.lines().nth(line.checked_sub(1)?)?;
    for method in ["filter", "map", "all", "some", "retain", "drain"] {
        let head = format!(".{method} ||");
        let Some(at) = text.find(&head) else {
            continue;
        };
        let body = text[at + head.len()..].trim_end().strip_suffix(';')?.trim();
        if body.is_empty() || body.contains("||") {
            return None;
        }
        if let Some(name) = undefined {
            if !identifiers(body).any(|w| w == name) {
                return None;
            }
            return Some(crate::diagnostic::FixIt {
                line: line as u32,
                from: format!(".{method} || {body}"),
                to: format!(".{method}(|{name}| {body})"),
            });
        }
        let var = ["n", "x", "item"]
            .into_iter()
            .find(|v| !identifiers(text).any(|w| w == *v))?;
        let replaced = replace_placeholder(body, var)?;
        return Some(crate::diagnostic::FixIt {
            line: line as u32,
            from: format!(".{method} || {body}"),
            to: format!(".{method}(|{var}| {replaced})"),
        });
    }
    None
}

/// The identifiers of `text` outside strings.
fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

/// `body` with every `_` that stands alone outside strings replaced by `var`; `None`
/// when there is none.
fn replace_placeholder(body: &str, var: &str) -> Option<String> {
    let chars: Vec<char> = body.chars().collect();
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    let ident = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
    for (i, &c) in chars.iter().enumerate() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                out.push(c);
            }
            None if c == '"' || c == '`' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '_'
                && !ident(i.checked_sub(1).and_then(|j| chars.get(j)))
                && !ident(chars.get(i + 1)) =>
            {
                any = true;
                out.push_str(var);
            }
            None => out.push(c),
        }
    }
    any.then_some(out)
}

fn err(pos: rhai::Position, kind: FailureKind, msg: String, object: Option<String>) -> StaticError {
    StaticError {
        fix: None,
        line: pos.line().unwrap_or(0) as u32,
        column: pos.position().unwrap_or(0) as u32,
        failure: Failure {
            kind,
            message: msg,
            object,
        },
    }
}

/// Parse and check `source` against the API and the scene. Returns the AST when the
/// program is clean, or every problem found (in source order).
pub fn check_program(
    engine: &Engine,
    source: &str,
    scene: &Scene,
) -> Result<AST, Vec<StaticError>> {
    let ast = engine.compile(source).map_err(|e| {
        let message = match e.err_type() {
            rhai::ParseErrorType::VariableUndefined(name) => format!(
                "`{name}` is used before it is defined: write `let {name} = ...;` above this line (an object is named by a string: find(\"red block\") or \"red_block\")"
            ),
            other => format!(
                "syntax error: {other}{}",
                closure_hint(source, e.position().line().unwrap_or(0))
            ),
        };
        let line = e.position().line().unwrap_or(0);
        let mut error = err(e.position(), FailureKind::ParseError, message, None);
        let undefined = match e.err_type() {
            rhai::ParseErrorType::VariableUndefined(name) => Some(name.as_str()),
            _ => None,
        };
        error.fix = placeholder_closure(source, line, undefined);
        vec![error]
    })?;
    let mut errors = check_ast(&ast, scene, false);
    // What a program means is checked once its names and calls are right.
    if errors.is_empty() {
        errors = crate::lint::lint(&ast, source, scene);
    }
    if errors.is_empty() {
        Ok(ast)
    } else {
        Err(errors)
    }
}

/// Check a parsed program. `queries_only` refuses motion and monitoring functions
/// (for success predicates).
pub fn check_ast(ast: &AST, scene: &Scene, queries_only: bool) -> Vec<StaticError> {
    let builtins = builtin_arities();
    let script_fns: BTreeMap<String, BTreeSet<usize>> =
        ast.iter_functions().fold(BTreeMap::new(), |mut m, f| {
            m.entry(f.name.to_owned())
                .or_default()
                .insert(f.params.len());
            m
        });
    let objects: BTreeSet<String> = scene.objects.iter().map(|o| o.name.clone()).collect();
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();

    ast.walk(&mut |path: &[ASTNode]| {
        // Calls appear as expressions, and as statements when their value is unused.
        let (call, pos, method) = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(c, pos))) => (c, *pos, false),
            Some(ASTNode::Expr(Expr::MethodCall(c, pos))) => (c, *pos, true),
            Some(ASTNode::Stmt(Stmt::FnCall(c, pos))) => (c, *pos, false),
            _ => return true,
        };
        if call.op_token.is_some() {
            return true;
        }
        let name = call.name.as_str();
        if !name.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_') {
            return true; // operators
        }
        let argc = call.args.len() + usize::from(method);
        if !seen.insert((pos.line(), pos.position(), name.to_owned())) {
            return true;
        }
        if let Some(f) = api::get(name) {
            if queries_only && f.category != api::Category::Query {
                errors.push(err(pos, FailureKind::UnknownFunction, format!("`{name}` cannot be used in a success predicate (queries only)"), None));
                return true;
            }
            if method || !f.arities().contains(&argc) {
                let takes = if f.options.is_empty() {
                    f.params.len().to_string()
                } else {
                    format!("{} or {} (with options)", f.params.len(), f.params.len() + 1)
                };
                errors.push(err(
                    pos,
                    FailureKind::WrongArity,
                    format!("{} takes {takes} argument(s), got {argc}", f.signature()),
                    None,
                ));
                return true;
            }
            // Anything but a map where the options go is a call with one argument too many.
            let literal_not_map = match call.args.get(f.params.len()) {
                Some(Expr::StringConstant(..) | Expr::IntegerConstant(..) | Expr::FloatConstant(..) | Expr::BoolConstant(..) | Expr::Array(..) | Expr::InterpolatedString(..)) => true,
                Some(Expr::DynamicConstant(d, _)) => !d.is_map(),
                _ => false,
            };
            if literal_not_map {
                errors.push(err(
                    pos,
                    FailureKind::WrongArity,
                    format!("{} takes {} argument(s) and then only an options map #{{...}}, got {argc} arguments", f.signature(), f.params.len()),
                    None,
                ));
                return true;
            }
            // A map literal of options (or the constant the optimiser folded it into).
            let keys: Option<(Vec<String>, Position)> = match call.args.get(f.params.len()) {
                Some(Expr::Map(m, mpos)) => Some((m.0.iter().map(|(k, _)| k.name.to_string()).collect(), *mpos)),
                Some(Expr::DynamicConstant(d, mpos)) => d
                    .read_lock::<rhai::Map>()
                    .map(|m| (m.keys().map(ToString::to_string).collect(), *mpos)),
                _ => None,
            };
            if let Some((keys, mpos)) = keys {
                for key in keys {
                    if !f.options.iter().any(|o| o.name == key) {
                        let names: Vec<&str> = f.options.iter().map(|o| o.name).collect();
                        errors.push(err(
                            mpos,
                            FailureKind::InvalidArgument,
                            format!("{name}: unknown option `{key}`; options are {}", names.join(", ")),
                            None,
                        ));
                    }
                }
            }
            for (arg, param) in call.args.iter().zip(f.params.iter()) {
                let Expr::StringConstant(s, apos) = arg else { continue };
                let s = s.as_str();
                let unknown = match param.ty {
                    ParamType::Object => !objects.contains(s),
                    _ => false,
                };
                if unknown {
                    let hint = suggest(s, objects.iter().cloned());
                    errors.push(err(
                        *apos,
                        FailureKind::UnknownObject,
                        format!("{name}: no object named \"{s}\"{hint} (objects: {})", objects.iter().cloned().collect::<Vec<_>>().join(", ")),
                        Some(s.to_owned()),
                    ));
                }
            }
            return true;
        }
        if let Some(arities) = script_fns.get(name) {
            if !arities.contains(&argc) {
                errors.push(err(pos, FailureKind::WrongArity, format!("function {name} is defined with {arities:?} parameter(s), called with {argc}"), None));
            }
            return true;
        }
        if KEYWORD_FNS.contains(&name) {
            return true;
        }
        if let Some(arities) = builtins.get(name) {
            if !arities.contains(&argc) && !method {
                errors.push(err(pos, FailureKind::WrongArity, format!("{name} takes {arities:?} argument(s), got {argc}"), None));
            }
            return true;
        }
        let all = api::API.iter().map(|f| f.name.to_owned()).chain(script_fns.keys().cloned());
        let hint = suggest(name, all);
        errors.push(err(pos, FailureKind::UnknownFunction, format!("unknown function `{name}`{hint} (see `cap api`)"), None));
        true
    });
    errors.sort_by_key(|e| (e.line, e.column));
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{engine, Limits};

    fn scene() -> Scene {
        Scene::load(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scenes/tabletop.toml"
        ))
        .unwrap()
    }

    fn errors(src: &str) -> Vec<StaticError> {
        check_program(&engine(&Limits::default()), src, &scene())
            .err()
            .unwrap_or_default()
    }

    #[test]
    fn clean_program_passes() {
        assert!(errors("let b = find_all(\"block\");\nfor x in b { pick(x); place_on(x, \"blue_plate\"); }\nlet n = b.len();").is_empty());
        assert!(errors("fn helper(a) { pick(a) }\nhelper(\"red_block\");").is_empty());
    }

    #[test]
    fn each_static_error_kind_has_its_line() {
        let e = errors("home();\n\nfly_to(\"red_block\");");
        assert_eq!(
            (e[0].failure.kind, e[0].line),
            (FailureKind::UnknownFunction, 3)
        );
        let e = errors("pick();");
        assert_eq!(e[0].failure.kind, FailureKind::WrongArity);
        let e = errors("home();\nplace_on(\"red_block\", \"purple_plate\");");
        assert_eq!(
            (e[0].failure.kind, e[0].line),
            (FailureKind::UnknownObject, 2)
        );
        assert!(
            e[0].failure.message.contains("blue_plate"),
            "{}",
            e[0].failure.message
        );
        let e = errors("let x = ;");
        assert_eq!(e[0].failure.kind, FailureKind::ParseError);
        let e = errors("fn f(a) { a }\nf(1, 2);");
        assert_eq!(e[0].failure.kind, FailureKind::WrongArity);
    }

    #[test]
    fn an_undefined_variable_is_found_before_running_with_what_to_write() {
        let e = errors("pick(block);\nlet block = \"red_block\";");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 1);
        let m = e[0].to_string();
        assert!(
            m.contains("`block` is used before it is defined") && m.contains("let block = ...;"),
            "{m}"
        );
        assert!(errors("let block = \"red_block\";\npick(block);").is_empty());
    }

    #[test]
    fn suggestions_name_the_closest_api_function() {
        let e = errors("pik(\"red_block\");");
        assert!(
            e[0].failure.message.contains("did you mean `pick`"),
            "{}",
            e[0].failure.message
        );
    }

    #[test]
    fn closures_in_another_languages_form_get_the_rhai_form() {
        for src in [
            "let b = find_all(\"block\").max_by_key || [0.0, 0.0, 0.0] || size;",
            "let n = objects().filter_not || kind(_) != \"red\";",
        ] {
            let e = errors(src);
            assert_eq!(e[0].failure.kind, FailureKind::ParseError, "{src}");
            let m = &e[0].failure.message;
            assert!(m.contains(".filter(|b| color(b) != \"red\")"), "{m}");
            assert!(m.contains("find(\"biggest block\")"), "{m}");
        }
        // A syntax error of another shape gets no such advice.
        let e = errors("let x = (1 + ;");
        assert!(
            !e[0].failure.message.contains("closure"),
            "{}",
            e[0].failure.message
        );
    }

    #[test]
    fn a_placeholder_closure_is_fixed_to_rhai_form() {
        let src =
            "let b = find_all(\"block\").filter || color(_) != \"red\";\nfor x in b { say(x); }";
        let e = errors(src);
        let fix = e[0]
            .fix
            .as_ref()
            .unwrap_or_else(|| panic!("no fix: {}", e[0]));
        assert_eq!(fix.to, ".filter(|n| color(n) != \"red\")");
        let (fixed, _) = crate::diagnostic::apply_fixits(src, &e).unwrap();
        assert!(errors(&fixed).is_empty(), "{fixed}");
        // A closure that forgot its parameter gets it.
        let src =
            "let bowls = objects().filter || kind(n) == \"bowl\";\nfor b in bowls { say(b); }";
        let e = errors(src);
        assert_eq!(
            e[0].fix.as_ref().map(|f| f.to.as_str()),
            Some(".filter(|n| kind(n) == \"bowl\")"),
            "{}",
            e[0]
        );
        let (fixed, _) = crate::diagnostic::apply_fixits(src, &e).unwrap();
        assert!(errors(&fixed).is_empty(), "{fixed}");
        // An undefined variable elsewhere is another mistake.
        let e = errors("let plate = find(\"blue plate\");\nlet bowls = objects().filter || kind(plate) == \"bowl\";\nlet y = z + 1;");
        assert!(
            e[0].failure.message.contains("`z` is used before"),
            "{}",
            e[0]
        );
        assert!(e[0].fix.is_none(), "{:?}", e[0].fix);
        // A name taken on the line is not reused; a string's `_` stays.
        let e = errors("let n = objects().filter || kind(_) == \"a_b _\";");
        assert_eq!(
            e[0].fix.as_ref().map(|f| f.to.as_str()),
            Some(".filter(|x| kind(x) == \"a_b _\")")
        );
        // Not certain: two `||`, a method rhai does not have. (Without a `_` the line
        // parses: a property `||` a value, left to the other checks.)
        for src in [
            "let b = find_all(\"block\").filter || color(_) == \"red\" || kind(_) == \"bowl\";",
            "let b = find_all(\"block\").max_by_key || size(_);",
        ] {
            let e = errors(src);
            assert_eq!(e[0].failure.kind, FailureKind::ParseError, "{src}");
            assert!(e[0].fix.is_none(), "{src}: {:?}", e[0].fix);
        }
    }

    #[test]
    fn selections_are_checked_as_the_simulation_reads_them() {
        // One bowl is not green; the positional superlative is decided at run time.
        assert!(errors("let b = find(\"bowl that is not green\");").is_empty());
        assert!(errors("let b = find(\"leftmost block\");").is_empty());
        // The three blocks are the same size: "biggest" leaves three.
        let e = errors("let b = find(\"biggest block\");");
        assert!(
            e[0].failure.message.contains("matches 3 objects"),
            "{}",
            e[0].failure.message
        );
        let e = errors("let b = find(\"biggest smallest block\");");
        assert!(
            e[0].failure.message.contains("two superlatives"),
            "{}",
            e[0].failure.message
        );
        let e = errors("let b = find(\"block that is not\");");
        assert!(
            e[0].failure.message.contains("\"not\" must be followed"),
            "{}",
            e[0].failure.message
        );
    }

    #[test]
    fn predicates_may_only_query() {
        let eng = engine(&Limits::default());
        let ast = eng.compile("pick(\"red_block\"); true").unwrap();
        let e = check_ast(&ast, &scene(), true);
        assert_eq!(e[0].failure.kind, FailureKind::UnknownFunction);
    }
}
