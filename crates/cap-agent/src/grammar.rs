//! Decoding constraints for local models ("monitor-guided decoding"): a GBNF grammar,
//! generated from the API registry and the scene, that admits only a fenced rhai
//! program in the subset the examples use — `let`, assignments, `for`, `if`/`else`
//! (nested three deep, indented by four spaces), expressions, comments — whose calls are API functions with their arity and whose
//! object-name arguments are the scene's object names (or variables and calls).
//!
//! A model decoding under it cannot misspell a function, invent an object, call a
//! helper that does not exist or wander into prose; whether the program is *right*
//! is still up to the model and the repair loop.

use cap_core::scene::Scene;
use cap_script::api::{OptType, ParamType, API};

/// GBNF string literal for `s` (quotes and backslashes escaped).
fn lit(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Rule name for an API function's call.
fn rule(name: &str) -> String {
    format!("call-{}", name.replace('_', "-"))
}

/// The grammar for programs on `scene` (root rule `root`).
pub fn program_grammar(scene: &Scene) -> String {
    let mut g = String::new();
    g.push_str(
        r#"root ::= "```rhai\n" line0{1,48} "```"
line0 ::= (stmt0 | comment)? "\n"
line1 ::= "    " (stmt1 | comment) "\n"
line2 ::= "        " (stmt2 | comment) "\n"
line3 ::= "            " (stmt | comment) "\n"
comment ::= "// " [^\n]{0,100}
stmt0 ::= stmt | for0 | if0
stmt1 ::= stmt | for1 | if1
stmt2 ::= stmt | for2 | if2
block0 ::= " {\n" line1{1,24} "}"
block1 ::= " {\n" line2{1,24} "    }"
block2 ::= " {\n" line3{1,24} "        }"
for0 ::= "for " var " in " expr block0
for1 ::= "for " var " in " expr block1
for2 ::= "for " var " in " expr block2
if0 ::= "if " expr block0 (" else" block0)?
if1 ::= "if " expr block1 (" else" block1)?
if2 ::= "if " expr block2 (" else" block2)?
stmt ::= let | assign | call ";" | "continue;" | "break;"
let ::= "let " var " = " expr ";"
assign ::= var index? (" = " | " += " | " -= ") expr ";"
expr ::= unary (binop unary)*
binop ::= ".." | " + " | " - " | " * " | " / " | " == " | " != " | " < " | " > " | " <= " | " >= " | " && " | " || "
unary ::= ("!" | "-")? atom postfix*
postfix ::= index | "." [a-z_]{1,16} ("()")?
index ::= "[" expr "]"
atom ::= call | text | number | var | array | "(" expr ")" | "true" | "false"
array ::= "[" (expr (", " expr)*)? "]"
number ::= [0-9]{1,4} ("." [0-9]{1,4})? ("e" "-"? [0-9]{1,2})?
var ::= [a-z_] [a-z0-9_]{0,24}
text ::= "\"" [^"\n\\`]{0,80} "\"" | "`" ([^`$\n\\] | "${" expr "}"){0,80} "`"
obj-arg ::= obj | var postfix* | call postfix*
which-arg ::= "\"top\"" | "\"center\"" | "\"bottom\"" | "\"inside\"" | "\"left\"" | "\"right\"" | "\"front\"" | "\"back\"" | var
side-arg ::= "\"front\"" | "\"back\"" | "\"left\"" | "\"right\"" | var
"#,
    );
    // Object names of this scene.
    let objs: Vec<String> = scene
        .objects
        .iter()
        .map(|o| lit(&format!("\"{}\"", o.name)))
        .collect();
    if objs.is_empty() {
        // No objects: object arguments can only be variables or calls.
        g.push_str("obj ::= \"\\\"\\\"\"\n");
    } else {
        g.push_str(&format!("obj ::= {}\n", objs.join(" | ")));
    }
    let calls: Vec<String> = API.iter().map(|f| rule(f.name)).collect();
    g.push_str(&format!("call ::= {}\n", calls.join(" | ")));
    for f in API {
        let args: Vec<&str> = f
            .params
            .iter()
            .map(|p| match p.ty {
                ParamType::Object => "obj-arg",
                ParamType::Which => "which-arg",
                ParamType::Text | ParamType::Point | ParamType::Number => "expr",
            })
            .collect();
        let mut parts = vec![lit(&format!("{}(", f.name))];
        parts.push(args.join(" \", \" "));
        if !f.options.is_empty() {
            // An optional trailing options map of the function's own keys.
            parts.push(format!("(\", \" {})?", options_rule(f.name)));
        }
        parts.push(lit(")"));
        parts.retain(|p| !p.is_empty());
        g.push_str(&format!("{} ::= {}\n", rule(f.name), parts.join(" ")));
        if !f.options.is_empty() {
            let keys: Vec<String> = f
                .options
                .iter()
                .map(|o| {
                    let value = match o.ty {
                        OptType::Number => "expr",
                        OptType::Side => "side-arg",
                        OptType::Text => "expr",
                    };
                    format!("{} {value}", lit(&format!("{}: ", o.name)))
                })
                .collect();
            let key_rule = format!("{}-key", options_rule(f.name));
            g.push_str(&format!(
                "{} ::= \"#{{\" {key_rule} (\", \" {key_rule})* \"}}\" | var\n{key_rule} ::= {}\n",
                options_rule(f.name),
                keys.join(" | ")
            ));
        }
    }
    g
}

fn options_rule(name: &str) -> String {
    format!("opts-{}", name.replace('_', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene() -> Scene {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenes");
        Scene::load(dir.join("tabletop.toml")).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn every_api_function_and_object_is_in_the_grammar() {
        let g = program_grammar(&scene());
        for f in API {
            assert!(
                g.contains(&format!("{} ::= \"{}(\"", rule(f.name), f.name)),
                "{}",
                f.name
            );
        }
        assert!(g.contains(r#""\"red_block\"""#), "{g}");
        assert!(
            g.contains(
                r#"call-place-on ::= "place_on(" obj-arg ", " obj-arg (", " opts-place-on)? ")""#
            ),
            "{g}"
        );
        // Options maps admit exactly the function's keys.
        assert!(
            g.contains(r#"opts-pick-key ::= "yaw_deg: " expr | "side: " side-arg"#),
            "{g}"
        );
        assert!(g.contains(r#"call-home ::= "home(" ")""#), "{g}");
        // Every rule used is defined.
        let defined: Vec<&str> = g
            .lines()
            .filter_map(|l| l.split_once(" ::= ").map(|(n, _)| n))
            .collect();
        for l in g.lines() {
            let Some((_, body)) = l.split_once(" ::= ") else {
                continue;
            };
            // Strip literals and classes, then every remaining word is a rule name.
            let mut s = String::new();
            let mut in_lit = false;
            let mut in_class = false;
            let mut prev = ' ';
            for c in body.chars() {
                match c {
                    '"' if !in_class && prev != '\\' => in_lit = !in_lit,
                    '[' if !in_lit => in_class = true,
                    ']' if !in_lit && prev != '\\' => in_class = false,
                    _ if !in_lit && !in_class => s.push(c),
                    _ => {}
                }
                prev = c;
            }
            for word in s
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
            {
                assert!(
                    defined.contains(&word),
                    "rule {word} is used but not defined"
                );
            }
        }
    }
}
