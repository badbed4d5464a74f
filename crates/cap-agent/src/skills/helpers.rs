//! The helper functions a program defines: each top-level `fn name(params) { ... }`
//! with its source text, found by matching braces outside strings and comments.

/// One function a program defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helper {
    /// Its name.
    pub name: String,
    /// Its parameters.
    pub params: Vec<String>,
    /// Its definition, `fn` to the closing brace.
    pub source: String,
}

impl Helper {
    /// `name(a, b)`.
    pub fn signature(&self) -> String {
        format!("{}({})", self.name, self.params.join(", "))
    }
}

/// Every top-level function definition in `program`, in order.
pub fn helpers_of(program: &str) -> Vec<Helper> {
    let b = program.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut depth) = (0usize, 0usize);
    let mut start: Option<usize> = None;
    let mut opened = false;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
                continue;
            }
            q @ (b'"' | b'`' | b'\'') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' => {
                depth += 1;
                opened |= start.is_some();
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 && opened {
                    if let Some(s) = start.take() {
                        if let Some(h) = parse(&program[s..=i]) {
                            out.push(h);
                        }
                    }
                    opened = false;
                }
            }
            b'f' if depth == 0
                && start.is_none()
                && program[i..].starts_with("fn ")
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                start = Some(i);
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn parse(source: &str) -> Option<Helper> {
    let rest = source.strip_prefix("fn ")?.trim_start();
    let open = rest.find('(')?;
    let close = rest.find(')')?;
    let name = rest[..open].trim();
    if name.is_empty()
        || close < open
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return None;
    }
    let params = rest[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    Some(Helper {
        name: name.to_owned(),
        params,
        source: source.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_functions_are_found_with_their_whole_body() {
        let p = "// fn not_this() {}\nfn put(o, t) {\n    pick(o);\n    if t != \"}\" { place_on(o, t); }\n    log(`${o} }`);\n}\n\nfn home_all() { home() }\nput(\"a\", \"b\");\nlet x = #{ fn_count: 1 };";
        let h = helpers_of(p);
        let names: Vec<&str> = h.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["put", "home_all"]);
        assert_eq!(h[0].params, ["o", "t"]);
        assert!(h[0].source.starts_with("fn put(o, t) {"));
        assert!(h[0].source.ends_with("log(`${o} }`);\n}"));
        assert_eq!(h[1].source, "fn home_all() { home() }");
        assert_eq!(h[1].signature(), "home_all()");
    }

    #[test]
    fn a_program_without_functions_has_none() {
        assert!(helpers_of("for b in find_all(\"block\") { pick(b); }\nhome();").is_empty());
        assert!(helpers_of("fn broken(a {").is_empty());
    }
}
