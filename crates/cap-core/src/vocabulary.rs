//! The words cap reads objects by, in one place: descriptions such as "red block",
//! "the blue bowls" or "green" (a palette colour, a kind or one of its synonyms, in
//! the singular or the plural), the height below which an object has fallen off the
//! table, and digests.
//!
//! `find`/`find_all` (cap-sim) and the checkpoint statements (cap-vision) both read
//! descriptions through [`Description::parse_words`], so their rules cannot drift.

use crate::scene::{ObjectKind, ObjectSpec, PALETTE};

/// The kind a description word names: a synonym, singular or plural ("cans").
pub fn kind_of_word(word: &str) -> Option<ObjectKind> {
    let one = singular(word);
    ObjectKind::ALL
        .into_iter()
        .find(|k| k.synonyms().iter().any(|s| *s == word || *s == one))
}

/// An object whose centre is this far below the table top (z = 0) has fallen off it.
pub const OFF_TABLE_Z_M: f64 = -0.03;

/// Words a description may carry that say nothing about the object.
const FILLER: &[&str] = &["the", "a", "an", "object", "objects", "thing", "things"];

/// The singular of a description word: "boxes" → "box", "dishes" → "dish",
/// "blocks" → "block"; words of three letters or fewer keep their "s" ("gas").
pub fn singular(word: &str) -> &str {
    word.strip_suffix("es")
        .filter(|s| ["x", "sh", "ch", "ss"].iter().any(|end| s.ends_with(end)))
        .or_else(|| word.strip_suffix('s').filter(|s| s.len() > 2))
        .unwrap_or(word)
}

/// The words of a description: lower case, `_` as a space, split on anything that is
/// not a letter or a digit.
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('_', " ")
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What a description says: a colour, a kind (or a mesh object's noun), both or (for
/// "object") neither.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description {
    /// A palette colour.
    pub color: Option<String>,
    /// A kind of object.
    pub kind: Option<ObjectKind>,
    /// A mesh object's noun ("mug"), among those the reader was given.
    pub noun: Option<String>,
}

/// Why a description could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescriptionError {
    /// Nothing but filler words.
    #[error("an empty description")]
    Empty,
    /// A word that is neither a palette colour nor a kind.
    #[error("`{word}` is neither a colour nor a kind of object")]
    UnknownWord {
        /// The word.
        word: String,
    },
    /// Two colours or two kinds.
    #[error("`{0}` names two colours or two kinds")]
    Conflict(String),
}

impl Description {
    /// Read a description from its words (see [`words`]).
    pub fn parse_words(ws: &[String]) -> Result<Description, DescriptionError> {
        Self::parse_words_with(ws, &[])
    }

    /// Read a description whose words may also be one of `nouns` (the scene's mesh
    /// objects' nouns, as [`crate::scene::ObjectSpec::noun`] gives them).
    pub fn parse_words_with(
        ws: &[String],
        nouns: &[&str],
    ) -> Result<Description, DescriptionError> {
        let mut d = Description::default();
        let mut any = false;
        for w in ws {
            any = true;
            if FILLER.contains(&w.as_str()) {
                continue;
            }
            if let Some((c, _)) = PALETTE.iter().find(|(c, _)| c == w) {
                if d.color.replace((*c).to_owned()).is_some() {
                    return Err(DescriptionError::Conflict(ws.join(" ")));
                }
            } else if let Some(k) = kind_of_word(w) {
                if d.kind.replace(k).is_some() || d.noun.is_some() {
                    return Err(DescriptionError::Conflict(ws.join(" ")));
                }
            } else if let Some(n) = nouns.iter().find(|n| **n == w || **n == singular(w)) {
                if d.noun.replace((*n).to_owned()).is_some() || d.kind.is_some() {
                    return Err(DescriptionError::Conflict(ws.join(" ")));
                }
            } else {
                return Err(DescriptionError::UnknownWord { word: w.clone() });
            }
        }
        if any {
            Ok(d)
        } else {
            Err(DescriptionError::Empty)
        }
    }

    /// Read a description from text ("the red blocks").
    pub fn parse(text: &str) -> Result<Description, DescriptionError> {
        Self::parse_words(&words(text))
    }

    /// Whether `o` is what the description describes.
    pub fn matches(&self, o: &ObjectSpec) -> bool {
        self.color.as_ref().is_none_or(|c| *c == o.color)
            && self.kind.is_none_or(|k| k == o.kind)
            && self
                .noun
                .as_ref()
                .is_none_or(|n| o.mesh.is_some() && n == o.noun())
    }

    /// Whether it says anything (a colour, a kind or a noun).
    pub fn is_specific(&self) -> bool {
        self.color.is_some() || self.kind.is_some() || self.noun.is_some()
    }
}

/// The sha256 of `data`, in lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_and_synonyms_read_as_their_kind() {
        for (text, color, kind) in [
            ("red block", Some("red"), Some(ObjectKind::Box)),
            ("the blue boxes", Some("blue"), Some(ObjectKind::Box)),
            ("bowls", None, Some(ObjectKind::Bowl)),
            ("green", Some("green"), None),
            ("orange ball", Some("orange"), Some(ObjectKind::Sphere)),
            ("cans", None, Some(ObjectKind::Cylinder)),
            ("yellow_dishes", Some("yellow"), Some(ObjectKind::Plate)),
            ("object", None, None),
        ] {
            let d = Description::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(d.color.as_deref(), color, "{text}");
            assert_eq!(d.kind, kind, "{text}");
        }
        assert_eq!(singular("gas"), "gas");
        assert_eq!(singular("boxes"), "box");
        assert_eq!(singular("spheres"), "sphere");
    }

    #[test]
    fn unknown_words_and_conflicts_are_errors() {
        assert!(matches!(
            Description::parse("red dragon"),
            Err(DescriptionError::UnknownWord { word }) if word == "dragon"
        ));
        assert!(matches!(
            Description::parse("red green block"),
            Err(DescriptionError::Conflict(_))
        ));
        assert_eq!(Description::parse("the"), Ok(Description::default()));
        assert_eq!(Description::parse(""), Err(DescriptionError::Empty));
    }

    #[test]
    fn sha256_is_lower_case_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
