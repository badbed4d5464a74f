//! The verified skill library: programs that succeeded in simulation, each with its
//! instruction, the kinds of object its scene held and the helper functions it defines.
//!
//! The shipped part is the reference policies (embedded in the binary, `shipped.rs`);
//! the user's part is one TOML file per skill in a directory (the data directory's
//! `skills/` by default), written by `cap skills add` (which runs the program first) and
//! by every `cap run` whose program reaches its threshold. For a new instruction the
//! most similar skills (BM25 over instruction words and object kinds, `rank.rs`) are
//! the few-shot examples, and a helper function that recurs, with the same body, in
//! several verified programs becomes a library function the model may call.

mod helpers;
mod rank;
mod shipped;

use std::path::{Path, PathBuf};

use cap_core::scene::Scene;
use serde::{Deserialize, Serialize};

pub use helpers::{helpers_of, Helper};
pub use rank::{LeaveOut, Query, Ranked};

/// A helper must recur in this many verified programs to become a library function.
pub const PROMOTE_AFTER: usize = 2;

/// Where a skill came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A reference policy shipped with cap (`examples/policies/`).
    Shipped,
    /// A program a language model wrote that reached its threshold in `cap run`.
    Run,
    /// A program added with `cap skills add` (run and verified first).
    Added,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Shipped => "shipped",
            Self::Run => "run",
            Self::Added => "added",
        })
    }
}

/// One verified program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Skill {
    /// Its name in the library (lowercase letters, digits, `_` and `-`).
    pub id: String,
    /// The instruction the program carries out.
    pub instruction: String,
    /// The nouns of the objects in the scene it succeeded on ("block", "bowl", a mesh's own).
    pub kinds: Vec<String>,
    /// Where it came from.
    pub origin: Origin,
    /// The scene file it was verified on.
    pub scene: String,
    /// The scene task whose predicate judged it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Its success rate over the seeds it ran on.
    pub success_rate: f64,
    /// How many seeds it ran on.
    pub seeds: u64,
    /// The model that wrote it (runs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The program.
    pub program: String,
}

impl Skill {
    /// The helper functions the program defines.
    pub fn helpers(&self) -> Vec<Helper> {
        helpers_of(&self.program)
    }
}

/// What can go wrong with the library.
#[derive(Debug, thiserror::Error)]
pub enum SkillError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A skill file is not valid TOML or lacks a field.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A skill file parses but says something impossible.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No skill has this id.
    #[error("no skill `{id}` in the library; `cap skills list` shows them")]
    Unknown {
        /// The id asked for.
        id: String,
    },
    /// Shipped skills are part of the binary.
    #[error("`{id}` is a shipped skill (a reference policy in the binary) and cannot be removed; `cap run --no-skills` runs without the library")]
    Shipped {
        /// The id.
        id: String,
    },
    /// An id that cannot name a file.
    #[error("`{id}` is not a skill id: use lowercase letters, digits, `_` and `-` (at most 80)")]
    BadId {
        /// The id.
        id: String,
    },
}

/// Whether `id` can name a skill (and its file).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 80
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// A skill id for `instruction` and `program`: the instruction's first words and a
/// digest of the program, so the same program for the same instruction gets the same id.
pub fn id_for(instruction: &str, program: &str) -> String {
    let words = cap_core::vocabulary::words(instruction);
    let mut slug = String::new();
    for w in words {
        if slug.len() + w.len() + 1 > 48 {
            break;
        }
        if !slug.is_empty() {
            slug.push('_');
        }
        slug.push_str(&w);
    }
    if slug.is_empty() {
        slug.push_str("skill");
    }
    format!("{slug}-{:08x}", fnv1a(&normalised(program)) as u32)
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A program with its whitespace collapsed (so layout alone never makes two differ).
pub fn normalised(program: &str) -> String {
    program.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The nouns of a scene's objects, sorted, each once.
pub fn kinds_of(scene: &Scene) -> Vec<String> {
    let mut k: Vec<String> = scene.objects.iter().map(|o| o.noun().to_owned()).collect();
    k.sort();
    k.dedup();
    k
}

/// What adding a skill did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// Written to this file.
    New(PathBuf),
    /// The library already holds this program for this instruction, under this id.
    Known(String),
}

/// The shipped skills and a directory's.
#[derive(Debug, Clone)]
pub struct Library {
    skills: Vec<Skill>,
}

impl Library {
    /// The shipped skills only.
    pub fn shipped() -> Self {
        Self {
            skills: shipped::skills(),
        }
    }

    /// No skills at all (`--no-skills`).
    pub fn empty() -> Self {
        Self { skills: Vec::new() }
    }

    /// The shipped skills and every `*.toml` in `dir` (a missing directory holds none).
    pub fn open(dir: &Path) -> Result<Self, SkillError> {
        let mut lib = Self::shipped();
        for (path, skill) in read_dir(dir)? {
            if lib.skills.iter().any(|s| s.id == skill.id) {
                return Err(SkillError::Invalid {
                    path,
                    message: format!("id `{}` is already a skill's", skill.id),
                });
            }
            lib.skills.push(skill);
        }
        Ok(lib)
    }

    /// Every skill, shipped first, then the directory's by id.
    pub fn skills(&self) -> &[Skill] {
        &self.skills
    }

    /// The skill called `id`.
    pub fn get(&self, id: &str) -> Option<&Skill> {
        self.skills.iter().find(|s| s.id == id)
    }

    /// Helpers that recur, with the same body, in at least [`PROMOTE_AFTER`] skills;
    /// a name defined with different bodies is left out (which one would be meant?).
    pub fn functions(&self) -> Vec<Helper> {
        let mut by_name: std::collections::BTreeMap<String, Vec<(usize, Helper)>> =
            std::collections::BTreeMap::new();
        for (i, s) in self.skills.iter().enumerate() {
            for h in s.helpers() {
                by_name.entry(h.name.clone()).or_default().push((i, h));
            }
        }
        by_name
            .into_values()
            .filter_map(|defs| {
                let body = normalised(&defs.first()?.1.source);
                if defs.iter().any(|(_, h)| normalised(&h.source) != body) {
                    return None;
                }
                let mut users: Vec<usize> = defs.iter().map(|(i, _)| *i).collect();
                users.dedup();
                (users.len() >= PROMOTE_AFTER).then(|| defs.into_iter().next().map(|d| d.1))?
            })
            .collect()
    }

    /// A skill for the same instruction verified at least as well (success rate and
    /// seeds) as `skill`: a run need not add another one (and the next run's examples,
    /// and so its warm prompt state, stay the same).
    pub fn covering(&self, skill: &Skill) -> Option<&Skill> {
        let words = cap_core::vocabulary::words(&skill.instruction);
        self.skills.iter().find(|s| {
            cap_core::vocabulary::words(&s.instruction) == words
                && s.success_rate >= skill.success_rate
                && s.seeds >= skill.seeds
        })
    }

    /// Write `skill` into `dir` (made if missing), unless the library already holds the
    /// same program for the same instruction.
    pub fn add(&self, dir: &Path, skill: &Skill) -> Result<Added, SkillError> {
        if !valid_id(&skill.id) {
            return Err(SkillError::BadId {
                id: skill.id.clone(),
            });
        }
        let program = normalised(&skill.program);
        let instruction = cap_core::vocabulary::words(&skill.instruction);
        if let Some(s) = self.skills.iter().find(|s| {
            normalised(&s.program) == program
                && cap_core::vocabulary::words(&s.instruction) == instruction
        }) {
            return Ok(Added::Known(s.id.clone()));
        }
        let path = dir.join(format!("{}.toml", skill.id));
        if self.get(&skill.id).is_some() {
            return Err(SkillError::Invalid {
                path,
                message: format!("id `{}` is already a skill's", skill.id),
            });
        }
        let io = |source| SkillError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let text = toml::to_string_pretty(skill).map_err(|e| SkillError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        // Written whole or not at all: a half-written skill must not break the library.
        let tmp = dir.join(format!(".{}.toml.tmp", skill.id));
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(Added::New(path))
    }

    /// Delete the skill `id` from `dir`.
    pub fn remove(&self, dir: &Path, id: &str) -> Result<PathBuf, SkillError> {
        if !valid_id(id) {
            return Err(SkillError::BadId { id: id.to_owned() });
        }
        match self.get(id) {
            None => Err(SkillError::Unknown { id: id.to_owned() }),
            Some(s) if s.origin == Origin::Shipped => {
                Err(SkillError::Shipped { id: id.to_owned() })
            }
            Some(_) => {
                let path = dir.join(format!("{id}.toml"));
                std::fs::remove_file(&path).map_err(|source| SkillError::Io {
                    path: path.clone(),
                    source,
                })?;
                Ok(path)
            }
        }
    }
}

fn read_dir(dir: &Path) -> Result<Vec<(PathBuf, Skill)>, SkillError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(SkillError::Io {
                path: dir.to_owned(),
                source,
            })
        }
    };
    let mut paths = Vec::new();
    for e in entries {
        let e = e.map_err(|source| SkillError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let p = e.path();
        if p.extension().is_some_and(|x| x == "toml") {
            paths.push(p);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| read_skill(&p).map(|s| (p, s)))
        .collect()
}

/// Read and check one skill file.
pub fn read_skill(path: &Path) -> Result<Skill, SkillError> {
    let text = std::fs::read_to_string(path).map_err(|source| SkillError::Io {
        path: path.to_owned(),
        source,
    })?;
    let skill: Skill = toml::from_str(&text).map_err(|e| SkillError::Parse {
        path: path.to_owned(),
        line: e.span().map_or(1, |s| {
            text[..s.start.min(text.len())].lines().count().max(1)
        }),
        message: e.message().trim().to_owned(),
    })?;
    let invalid = |message: String| SkillError::Invalid {
        path: path.to_owned(),
        message,
    };
    if !valid_id(&skill.id) {
        return Err(invalid(format!(
            "id `{}`: use lowercase letters, digits, `_` and `-`",
            skill.id
        )));
    }
    if path.file_stem().and_then(|s| s.to_str()) != Some(skill.id.as_str()) {
        return Err(invalid(format!(
            "id `{}` differs from the file's name",
            skill.id
        )));
    }
    if !(0.0..=1.0).contains(&skill.success_rate) {
        return Err(invalid(format!(
            "success_rate {} is outside [0, 1]",
            skill.success_rate
        )));
    }
    if skill.instruction.trim().is_empty() || skill.program.trim().is_empty() {
        return Err(invalid("instruction and program must not be empty".into()));
    }
    Ok(skill)
}

/// The few-shot examples for the first request: each skill's instruction and program,
/// in the form of `prompts/examples.md`, then the library functions, if any.
pub fn examples_text(skills: &[&Skill], functions: &[Helper]) -> String {
    let mut s = String::new();
    for k in skills {
        s.push_str(&format!(
            "Instruction: {}\n```rhai\n{}\n```\n\n",
            k.instruction.trim(),
            k.program.trim()
        ));
    }
    if !functions.is_empty() {
        s.push_str("Library functions (verified in simulation; call them, do not define them again):\n```rhai\n");
        for f in functions {
            s.push_str(f.source.trim());
            s.push_str("\n\n");
        }
        s.truncate(s.trim_end().len());
        s.push_str("\n```\n");
    }
    s.trim_end().to_owned() + "\n"
}

#[cfg(test)]
mod tests;
