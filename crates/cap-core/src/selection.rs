//! Descriptions that pick among the objects they match: "the biggest block", "the
//! leftmost bowl", "the block closest to the green plate", "blocks that are not red".
//!
//! A [`Selection`] is a [`Description`] (colour, kind or noun) plus exclusions ("not
//! red", "non-blue", "not bowls") and at most one superlative. `find`/`find_all` read
//! descriptions this way, in the simulation (live sizes and positions) and in the
//! static checker (the scene as written), so the two cannot drift. Checkpoint
//! statements read plain descriptions only.

use crate::scene::ObjectSpec;
use crate::vocabulary::{Description, DescriptionError};

/// Which of the matching objects a superlative keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Superlative {
    /// The largest volume of its box of extents ("biggest", "largest").
    Biggest,
    /// The smallest such volume ("smallest", "tiniest").
    Smallest,
    /// The greatest height ("tallest", "highest").
    Tallest,
    /// The least height ("shortest", "lowest").
    Shortest,
    /// The greatest y: leftmost as the robot sees the table.
    Leftmost,
    /// The least y.
    Rightmost,
    /// Nearest the reference ("closest", "nearest"; the robot's base unless "to ...").
    Nearest,
    /// Farthest from it ("farthest", "furthest").
    Farthest,
}

impl Superlative {
    /// The superlative a word names.
    pub fn of_word(word: &str) -> Option<Superlative> {
        Some(match word {
            "biggest" | "largest" => Superlative::Biggest,
            "smallest" | "tiniest" => Superlative::Smallest,
            "tallest" | "highest" => Superlative::Tallest,
            "shortest" | "lowest" => Superlative::Shortest,
            "leftmost" => Superlative::Leftmost,
            "rightmost" => Superlative::Rightmost,
            "closest" | "nearest" => Superlative::Nearest,
            "farthest" | "furthest" => Superlative::Farthest,
            _ => return None,
        })
    }

    /// Whether it reads where objects are (and so can change as they move).
    pub fn is_positional(self) -> bool {
        matches!(
            self,
            Superlative::Leftmost
                | Superlative::Rightmost
                | Superlative::Nearest
                | Superlative::Farthest
        )
    }
}

/// What a selection needs to know of an object beyond its spec.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measure {
    /// Full extents, metres.
    pub size: [f64; 3],
    /// Centre, world frame, metres.
    pub position: [f64; 3],
}

/// A description read as a selection.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selection {
    /// What the objects are.
    pub description: Description,
    /// What they are not ("not red", "not bowls").
    pub excluded: Vec<Description>,
    /// Which of them to keep.
    pub superlative: Option<Superlative>,
    /// The words after "closest to" / "farthest from": the one object distances are
    /// measured from.
    pub reference: Option<Vec<String>>,
    /// The words it was read from.
    pub text: String,
}

/// Why a selection could not be read or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// The description part could not be read.
    #[error(transparent)]
    Description(#[from] DescriptionError),
    /// Two superlatives ("biggest smallest block").
    #[error("`{0}` has two superlatives")]
    TwoSuperlatives(String),
    /// "not" with nothing after it that it could exclude.
    #[error("`{0}`: \"not\" must be followed by a colour or a kind (\"not red\", \"not bowls\")")]
    DanglingNot(String),
    /// "closest to X" where X is not exactly one object.
    #[error("`{words}`: \"{reference}\" must name exactly one object ({found} match)")]
    Reference {
        /// The whole description.
        words: String,
        /// The reference's words.
        reference: String,
        /// How many objects it matches.
        found: usize,
    },
}

/// Words that join a selection's parts and say nothing themselves.
const JOINING: &[&str] = &["that", "which", "is", "are", "one", "ones"];

impl Selection {
    /// Read a selection from a description's words (see [`crate::vocabulary::words`]),
    /// with `nouns` the scene's mesh nouns.
    pub fn parse_words_with(ws: &[String], nouns: &[&str]) -> Result<Selection, SelectionError> {
        let all = ws.join(" ");
        let mut sel = Selection {
            text: all.clone(),
            ..Selection::default()
        };
        let mut rest: Vec<String> = Vec::new();
        let mut i = 0;
        while i < ws.len() {
            let w = ws[i].as_str();
            if let Some(s) = Superlative::of_word(w) {
                if sel.superlative.replace(s).is_some() {
                    return Err(SelectionError::TwoSuperlatives(all));
                }
                // "closest to the green plate", "farthest from the robot".
                if matches!(s, Superlative::Nearest | Superlative::Farthest)
                    && matches!(ws.get(i + 1).map(String::as_str), Some("to" | "from"))
                {
                    let tail: Vec<String> = ws[i + 2..].to_vec();
                    let robot = tail
                        .iter()
                        .all(|w| ["the", "robot", "arm", "base"].contains(&w.as_str()));
                    if !robot {
                        sel.reference = Some(tail);
                    }
                    break;
                }
            } else if w == "not" || w == "non" {
                let Some(next) = ws.get(i + 1) else {
                    return Err(SelectionError::DanglingNot(all));
                };
                let d = Description::parse_words_with(std::slice::from_ref(next), nouns)
                    .map_err(|_| SelectionError::DanglingNot(all.clone()))?;
                if !d.is_specific() {
                    return Err(SelectionError::DanglingNot(all));
                }
                sel.excluded.push(d);
                i += 1;
            } else if !JOINING.contains(&w) {
                rest.push(ws[i].clone());
            }
            i += 1;
        }
        if !rest.is_empty() {
            sel.description = Description::parse_words_with(&rest, nouns)?;
        } else if sel.superlative.is_none() && sel.excluded.is_empty() {
            return Err(DescriptionError::Empty.into());
        }
        Ok(sel)
    }

    /// Whether it narrows anything down (a plain "object" does not).
    pub fn is_specific(&self) -> bool {
        self.description.is_specific() || !self.excluded.is_empty() || self.superlative.is_some()
    }

    /// Whether `o` is what the description and exclusions describe (before the
    /// superlative).
    pub fn admits(&self, o: &ObjectSpec) -> bool {
        self.description.matches(o) && !self.excluded.iter().any(|d| d.matches(o))
    }

    /// The names of the objects selected from `objects` (scene order), measured by
    /// `measure`; distances are from `origin` (the robot base, x and y) unless the
    /// selection names a reference. Ties of the superlative (within 0.1 mm or 0.1%)
    /// are all kept.
    pub fn select(
        &self,
        objects: &[ObjectSpec],
        measure: impl Fn(&ObjectSpec) -> Measure,
        origin: [f64; 2],
        nouns: &[&str],
    ) -> Result<Vec<String>, SelectionError> {
        let mut from = origin;
        let mut reference_name = None;
        if let Some(words) = &self.reference {
            let r = Selection::parse_words_with(words, nouns)?;
            let found: Vec<&ObjectSpec> = objects
                .iter()
                .filter(|o| r.is_specific() && r.admits(o))
                .collect();
            let [one] = found[..] else {
                return Err(SelectionError::Reference {
                    words: self.text.clone(),
                    reference: words.join(" "),
                    found: found.len(),
                });
            };
            let p = measure(one).position;
            from = [p[0], p[1]];
            reference_name = Some(one.name.as_str());
        }
        let candidates: Vec<&ObjectSpec> = objects
            .iter()
            .filter(|o| self.admits(o) && Some(o.name.as_str()) != reference_name)
            .collect();
        let Some(sup) = self.superlative else {
            return Ok(candidates.iter().map(|o| o.name.clone()).collect());
        };
        // Larger is better for every key.
        let key = |o: &ObjectSpec| {
            let m = measure(o);
            let d = ((m.position[0] - from[0]).powi(2) + (m.position[1] - from[1]).powi(2)).sqrt();
            match sup {
                Superlative::Biggest => m.size[0] * m.size[1] * m.size[2],
                Superlative::Smallest => -(m.size[0] * m.size[1] * m.size[2]),
                Superlative::Tallest => m.size[2],
                Superlative::Shortest => -m.size[2],
                Superlative::Leftmost => m.position[1],
                Superlative::Rightmost => -m.position[1],
                Superlative::Nearest => -d,
                Superlative::Farthest => d,
            }
        };
        let keyed: Vec<(f64, &ObjectSpec)> = candidates.iter().map(|o| (key(o), *o)).collect();
        let Some(best) = keyed.iter().map(|(k, _)| *k).reduce(f64::max) else {
            return Ok(Vec::new());
        };
        // Volumes are in m³ (a 4 cm block is 6.4e-5): ties are relative for them.
        let tol = if matches!(sup, Superlative::Biggest | Superlative::Smallest) {
            best.abs() * 1e-3
        } else {
            1e-4
        };
        Ok(keyed
            .iter()
            .filter(|(k, _)| *k >= best - tol)
            .map(|(_, o)| o.name.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::Scene;
    use crate::vocabulary::words;

    fn scene() -> Scene {
        Scene::from_toml(
            r#"
[scene]
name = "t"
[table]
size = [1.0, 1.2, 0.05]
center = [0.45, 0.0]
[[objects]]
name = "red_block"
kind = "box"
color = "red"
size = [0.03, 0.03, 0.03]
position = [0.4, 0.2]
mass = 0.1
[[objects]]
name = "blue_block"
kind = "box"
color = "blue"
size = [0.05, 0.05, 0.05]
position = [0.5, -0.2]
mass = 0.1
[[objects]]
name = "green_block"
kind = "box"
color = "green"
size = [0.04, 0.04, 0.06]
position = [0.6, 0.0]
mass = 0.1
[[objects]]
name = "red_bowl"
kind = "bowl"
color = "red"
size = [0.2, 0.2, 0.06]
position = [0.45, 0.35]
mass = 0.1
"#,
            "t.toml",
        )
        .expect("scene")
    }

    fn pick(text: &str) -> Result<Vec<String>, SelectionError> {
        let s = scene();
        let measure = |o: &ObjectSpec| Measure {
            size: [o.size_m.x, o.size_m.y, o.size_m.z],
            position: [o.position_m.x, o.position_m.y, 0.0],
        };
        Selection::parse_words_with(&words(text), &[])?.select(&s.objects, measure, [0.0, 0.0], &[])
    }

    #[test]
    fn superlatives_pick_among_the_matches() {
        assert_eq!(pick("the biggest block").unwrap(), ["blue_block"]);
        assert_eq!(pick("largest object").unwrap(), ["red_bowl"]);
        assert_eq!(pick("smallest block").unwrap(), ["red_block"]);
        assert_eq!(pick("tallest block").unwrap(), ["green_block"]);
        assert_eq!(pick("leftmost block").unwrap(), ["red_block"]);
        assert_eq!(pick("rightmost").unwrap(), ["blue_block"]);
        assert_eq!(
            pick("the block nearest to the robot").unwrap(),
            ["red_block"]
        );
        assert_eq!(pick("farthest block").unwrap(), ["green_block"]);
        assert_eq!(
            pick("the block closest to the red bowl").unwrap(),
            ["red_block"]
        );
        assert_eq!(
            pick("the block farthest from the red bowl").unwrap(),
            ["blue_block"]
        );
    }

    #[test]
    fn negations_exclude_colours_and_kinds() {
        assert_eq!(
            pick("blocks that are not red").unwrap(),
            ["blue_block", "green_block"]
        );
        assert_eq!(
            pick("non-red blocks").unwrap(),
            ["blue_block", "green_block"]
        );
        assert_eq!(
            pick("red objects that are not bowls").unwrap(),
            ["red_block"]
        );
        assert_eq!(
            pick("biggest block that is not blue").unwrap(),
            ["green_block"]
        );
    }

    #[test]
    fn bad_selections_say_why() {
        assert!(matches!(
            pick("biggest smallest block"),
            Err(SelectionError::TwoSuperlatives(_))
        ));
        assert!(matches!(
            pick("blocks that are not"),
            Err(SelectionError::DanglingNot(_))
        ));
        assert!(matches!(
            pick("not dragons"),
            Err(SelectionError::DanglingNot(_))
        ));
        assert!(matches!(
            pick("block closest to the block"),
            Err(SelectionError::Reference { found: 3, .. })
        ));
        assert!(matches!(
            pick("red dragon"),
            Err(SelectionError::Description(
                DescriptionError::UnknownWord { .. }
            ))
        ));
        // Plain descriptions read as before.
        assert_eq!(pick("red").unwrap(), ["red_block", "red_bowl"]);
        assert!(matches!(
            pick(""),
            Err(SelectionError::Description(DescriptionError::Empty))
        ));
    }
}
