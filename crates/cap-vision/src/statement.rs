//! Checkpoint statements: the small language inspectors understand.
//!
//! A statement is a declarative sentence about the scene ("the red block is on the
//! blue plate", "the gripper is empty", "the green block is not in the yellow bowl")
//! or an imperative goal as programs write subgoals ("pick up the red block", "put the
//! red block on the blue plate"), which is read as the state it should produce.
//! Objects are described by colour and kind ("red block", "yellow bowl"); "the table"
//! and "the gripper" are understood where they make sense. Anything else is a
//! [`ParseError`], which inspectors turn into "cannot tell".

use cap_core::scene::ObjectKind;
use cap_core::vocabulary::Description;
use serde::Serialize;

/// The relations a statement can assert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// Subject rests on the object (a block, a plate, the table).
    On,
    /// Subject is inside a receptacle.
    In,
    /// The gripper holds the subject.
    Holding,
    /// The gripper holds nothing.
    GripperEmpty,
    /// Subject is further to the robot's left (+y) than the object, by > 2 cm.
    LeftOf,
    /// Subject is further to the robot's right (−y) than the object, by > 2 cm.
    RightOf,
    /// Subject's centre is within 10 cm of the object's (in 3D).
    Near,
    /// Subject shows on at least `geometric::VISIBLE_MIN_PX` pixels of a camera.
    Visible,
    /// Subject's z axis is within 30° of vertical.
    Upright,
    /// Subject has fallen off the table.
    OffTable,
}

impl Relation {
    /// Every relation; the vision model learns the first eight (see
    /// `dataset::RELATIONS`).
    pub const ALL: [Relation; 10] = [
        Relation::On,
        Relation::In,
        Relation::Holding,
        Relation::GripperEmpty,
        Relation::LeftOf,
        Relation::RightOf,
        Relation::Near,
        Relation::Visible,
        Relation::Upright,
        Relation::OffTable,
    ];

    /// snake_case label.
    pub fn label(self) -> &'static str {
        match self {
            Relation::On => "on",
            Relation::In => "in",
            Relation::Holding => "holding",
            Relation::GripperEmpty => "gripper_empty",
            Relation::LeftOf => "left_of",
            Relation::RightOf => "right_of",
            Relation::Near => "near",
            Relation::Visible => "visible",
            Relation::Upright => "upright",
            Relation::OffTable => "off_table",
        }
    }

    /// Whether the relation takes a second object.
    pub fn binary(self) -> bool {
        matches!(
            self,
            Relation::On | Relation::In | Relation::LeftOf | Relation::RightOf | Relation::Near
        )
    }
}

/// What a description names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Thing {
    /// A scene object of this kind.
    Object(ObjectKind),
    /// The table.
    Table,
}

/// An object description: "red block", "the bowl", "the table".
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Desc {
    /// Palette colour, if given.
    pub color: Option<String>,
    /// Kind, if given.
    pub thing: Option<Thing>,
    /// A mesh object's noun ("mug"), if the description used one (the kind is then
    /// [`ObjectKind::Mesh`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noun: Option<String>,
}

impl Desc {
    /// "red block"-style text.
    pub fn text(&self) -> String {
        let kind = match (&self.noun, self.thing) {
            (Some(n), _) => n.as_str(),
            (None, Some(Thing::Object(k))) => k.noun(),
            (None, Some(Thing::Table)) => "table",
            (None, None) => "object",
        };
        match &self.color {
            Some(c) => format!("{c} {kind}"),
            None => kind.to_owned(),
        }
    }
}

/// A parsed statement.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Statement {
    /// The relation.
    pub relation: Relation,
    /// The first argument (absent for `gripper_empty`).
    pub subject: Option<Desc>,
    /// The second argument of binary relations.
    pub object: Option<Desc>,
    /// "is not": the answer is negated.
    pub negated: bool,
}

impl Statement {
    /// Canonical text, e.g. `on(red block, blue plate)` or `not holding(red block)`.
    pub fn canonical(&self) -> String {
        let args: Vec<String> = [&self.subject, &self.object]
            .into_iter()
            .flatten()
            .map(Desc::text)
            .collect();
        format!(
            "{}{}({})",
            if self.negated { "not " } else { "" },
            self.relation.label(),
            args.join(", ")
        )
    }

    /// An English sentence for the statement (used by the dataset generator and for
    /// round-trip tests).
    pub fn sentence(&self) -> String {
        let s = self.subject.as_ref().map(Desc::text).unwrap_or_default();
        let o = self.object.as_ref().map(Desc::text).unwrap_or_default();
        let not = if self.negated { "not " } else { "" };
        match self.relation {
            Relation::On => format!("the {s} is {not}on the {o}"),
            Relation::In => format!("the {s} is {not}in the {o}"),
            Relation::Holding => format!("the gripper is {not}holding the {s}"),
            Relation::GripperEmpty => format!("the gripper is {not}empty"),
            Relation::LeftOf => format!("the {s} is {not}left of the {o}"),
            Relation::RightOf => format!("the {s} is {not}right of the {o}"),
            Relation::Near => format!("the {s} is {not}near the {o}"),
            Relation::Visible => format!("the {s} is {not}visible"),
            Relation::Upright => format!("the {s} is {not}upright"),
            Relation::OffTable => format!("the {s} has {not}fallen off the table"),
        }
    }
}

/// Why a statement could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No relation phrase the inspectors know.
    #[error("no known relation in `{0}` (known: on, in, holding, gripper empty, left of, right of, near, visible, upright, fallen off the table)")]
    NoRelation(String),
    /// A description with words that are neither a palette colour nor a kind.
    #[error("cannot read the description `{0}`")]
    BadDescription(String),
    /// The statement is empty or too long.
    #[error("statement is empty or longer than 200 characters")]
    Length,
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace("n't", " not")
        .replace('_', " ")
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty() && !matches!(*w, "the" | "a" | "an" | "now" | "still"))
        .map(str::to_owned)
        .collect()
}

/// Parse a description from words.
pub fn parse_desc(ws: &[String]) -> Result<Desc, ParseError> {
    parse_desc_with(ws, &[])
}

/// Parse a description whose words may also be one of `nouns` (a scene's mesh
/// objects' nouns).
pub fn parse_desc_with(ws: &[String], nouns: &[&str]) -> Result<Desc, ParseError> {
    let mut d = Desc {
        color: None,
        thing: None,
        noun: None,
    };
    if ws.is_empty() {
        return Err(ParseError::BadDescription(String::new()));
    }
    // "the table" is a statement's own word; objects are described as everywhere in cap
    // (cap_core::vocabulary), so a statement reads "blue boxes" as `find_all` does.
    if ws.iter().any(|w| w == "table") {
        if ws.len() != 1 {
            return Err(ParseError::BadDescription(ws.join(" ")));
        }
        d.thing = Some(Thing::Table);
        return Ok(d);
    }
    let core = Description::parse_words_with(ws, nouns)
        .map_err(|_| ParseError::BadDescription(ws.join(" ")))?;
    d.color = core.color;
    d.thing = core.kind.map(Thing::Object);
    if core.noun.is_some() {
        d.thing = Some(Thing::Object(ObjectKind::Mesh));
        d.noun = core.noun;
    }
    Ok(d)
}

const GRIPPER_WORDS: &[&str] = &["gripper", "robot", "hand", "arm"];

/// Find `phrase` in `ws`; returns (before, after).
fn split<'a>(ws: &'a [String], phrase: &[&str]) -> Option<(&'a [String], &'a [String])> {
    (0..=ws.len().checked_sub(phrase.len())?)
        .find(|&i| {
            ws[i..i + phrase.len()]
                .iter()
                .zip(phrase)
                .all(|(a, b)| a == b)
        })
        .map(|i| (&ws[..i], &ws[i + phrase.len()..]))
}

/// Parse a statement about `scene` (whose mesh objects' nouns it may use), or about
/// no scene in particular.
pub fn parse_for(
    text: &str,
    scene: Option<&cap_core::scene::Scene>,
) -> Result<Statement, ParseError> {
    let nouns: Vec<&str> = scene
        .map(|s| {
            s.objects
                .iter()
                .filter(|o| o.mesh.is_some())
                .map(|o| o.noun())
                .collect()
        })
        .unwrap_or_default();
    parse_with(text, &nouns)
}

/// Parse a statement.
pub fn parse(text: &str) -> Result<Statement, ParseError> {
    parse_with(text, &[])
}

/// Parse a statement whose descriptions may also use `nouns`.
pub fn parse_with(text: &str, nouns: &[&str]) -> Result<Statement, ParseError> {
    if text.trim().is_empty() || text.len() > 200 {
        return Err(ParseError::Length);
    }
    let mut ws = words(text);
    // Negation: "is not", "does not", "has not"; one "not" anywhere flips the answer.
    let negated = match ws.iter().position(|w| w == "not" || w == "no") {
        Some(i) if ws[i] == "not" => {
            ws.remove(i);
            true
        }
        _ => false,
    };
    let mut st = parse_positive(&ws, text, nouns)?;
    st.negated ^= negated;
    Ok(st)
}

fn unary(relation: Relation, subject: &[String], nouns: &[&str]) -> Result<Statement, ParseError> {
    Ok(Statement {
        relation,
        subject: Some(parse_desc_with(subject, nouns)?),
        object: None,
        negated: false,
    })
}

fn binary(
    relation: Relation,
    a: &[String],
    b: &[String],
    nouns: &[&str],
) -> Result<Statement, ParseError> {
    Ok(Statement {
        relation,
        subject: Some(parse_desc_with(a, nouns)?),
        object: Some(parse_desc_with(b, nouns)?),
        negated: false,
    })
}

fn strip_verb<'a>(ws: &'a [String], verbs: &[&str]) -> Option<&'a [String]> {
    ws.first()
        .filter(|w| verbs.contains(&w.as_str()))
        .map(|_| &ws[1..])
}

fn parse_positive(ws: &[String], text: &str, nouns: &[&str]) -> Result<Statement, ParseError> {
    let is_gripper = |s: &[String]| s.len() == 1 && GRIPPER_WORDS.contains(&s[0].as_str());

    // Imperative goals first: "pick up X", "put X on Y", "place X in Y".
    if let Some(rest) = strip_verb(ws, &["pick", "grasp", "grab", "lift", "hold"]) {
        let rest: Vec<String> = rest.iter().filter(|w| *w != "up").cloned().collect();
        return unary(Relation::Holding, &rest, nouns);
    }
    if let Some(rest) = strip_verb(ws, &["put", "place", "stack", "move", "set", "drop", "lay"]) {
        for (phrase, rel) in [
            (&["on", "top", "of"][..], Relation::On),
            (&["onto"][..], Relation::On),
            (&["on"][..], Relation::On),
            (&["into"][..], Relation::In),
            (&["inside"][..], Relation::In),
            (&["in"][..], Relation::In),
            (&["left", "of"][..], Relation::LeftOf),
            (&["right", "of"][..], Relation::RightOf),
            (&["next", "to"][..], Relation::Near),
            (&["near"][..], Relation::Near),
        ] {
            if let Some((a, b)) = split(rest, phrase) {
                let a: Vec<String> = a.iter().filter(|w| *w != "to").cloned().collect();
                let b: Vec<String> = b.iter().filter(|w| *w != "the").cloned().collect();
                return binary(rel, &a, &b, nouns);
            }
        }
        return Err(ParseError::NoRelation(text.to_owned()));
    }

    // The gripper as subject.
    for verb in [
        &["is", "holding"][..],
        &["holds"][..],
        &["has", "grasped"][..],
        &["is", "grasping"][..],
        &["grasps"][..],
        &["has"][..],
    ] {
        if let Some((a, b)) = split(ws, verb) {
            if is_gripper(a) {
                if b == ["anything"] || b == ["something"] || b.is_empty() {
                    // "the gripper is holding something" = not empty.
                    return Ok(Statement {
                        relation: Relation::GripperEmpty,
                        subject: None,
                        object: None,
                        negated: true,
                    });
                }
                if b == ["nothing"] {
                    return Ok(Statement {
                        relation: Relation::GripperEmpty,
                        subject: None,
                        object: None,
                        negated: false,
                    });
                }
                return unary(Relation::Holding, b, nouns);
            }
        }
    }
    if let Some((a, b)) = split(ws, &["is", "empty"]) {
        if is_gripper(a) && b.is_empty() {
            return Ok(Statement {
                relation: Relation::GripperEmpty,
                subject: None,
                object: None,
                negated: false,
            });
        }
    }

    // Declaratives about an object: "X is <relation> Y".
    let rest = |phrase: &[&str]| split(ws, phrase);
    for phrase in [
        &["is", "in", "gripper"][..],
        &["is", "in", "hand"][..],
        &["is", "held"][..],
        &["is", "being", "held"][..],
        &["is", "grasped"][..],
        &["is", "picked", "up"][..],
        &["is", "lifted"][..],
    ] {
        if let Some((a, b)) = rest(phrase) {
            if b.is_empty() || b == ["by", "gripper"] || b == ["by", "robot"] {
                return unary(Relation::Holding, a, nouns);
            }
        }
    }
    for (phrase, rel) in [
        (&["has", "fallen", "off", "table"][..], Relation::OffTable),
        (&["fell", "off", "table"][..], Relation::OffTable),
        (&["is", "off", "table"][..], Relation::OffTable),
        (&["has", "fallen"][..], Relation::OffTable),
        (&["is", "visible"][..], Relation::Visible),
        (&["can", "be", "seen"][..], Relation::Visible),
        (&["is", "upright"][..], Relation::Upright),
        (&["is", "standing", "upright"][..], Relation::Upright),
    ] {
        if let Some((a, b)) = rest(phrase) {
            if b.is_empty() {
                return unary(rel, a, nouns);
            }
        }
    }
    for (phrase, rel) in [
        (&["is", "to", "left", "of"][..], Relation::LeftOf),
        (&["is", "on", "left", "of"][..], Relation::LeftOf),
        (&["is", "left", "of"][..], Relation::LeftOf),
        (&["is", "to", "right", "of"][..], Relation::RightOf),
        (&["is", "on", "right", "of"][..], Relation::RightOf),
        (&["is", "right", "of"][..], Relation::RightOf),
        (&["is", "next", "to"][..], Relation::Near),
        (&["is", "close", "to"][..], Relation::Near),
        (&["is", "near"][..], Relation::Near),
        (&["is", "beside"][..], Relation::Near),
        (&["is", "on", "top", "of"][..], Relation::On),
        (&["is", "stacked", "on"][..], Relation::On),
        (&["is", "on"][..], Relation::On),
        (&["sits", "on"][..], Relation::On),
        (&["rests", "on"][..], Relation::On),
        (&["is", "inside"][..], Relation::In),
        (&["is", "in"][..], Relation::In),
    ] {
        if let Some((a, b)) = rest(phrase) {
            return binary(rel, a, b, nouns);
        }
    }
    Err(ParseError::NoRelation(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        parse(s)
            .map(|s| s.canonical())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn declaratives() {
        assert_eq!(
            canon("The red block is on the blue plate."),
            "on(red block, blue plate)"
        );
        assert_eq!(
            canon("the red block is on top of the green cube"),
            "on(red block, green block)"
        );
        assert_eq!(
            canon("green block is in the yellow bowl"),
            "in(green block, yellow bowl)"
        );
        assert_eq!(
            canon("the red block is in the gripper"),
            "holding(red block)"
        );
        assert_eq!(
            canon("the gripper is holding the blue block"),
            "holding(blue block)"
        );
        assert_eq!(canon("the gripper is empty"), "gripper_empty()");
        assert_eq!(
            canon("the gripper is holding something"),
            "not gripper_empty()"
        );
        assert_eq!(
            canon("red block is to the left of the blue block"),
            "left_of(red block, blue block)"
        );
        assert_eq!(
            canon("red block is right of blue block"),
            "right_of(red block, blue block)"
        );
        assert_eq!(
            canon("the red block is next to the green bowl"),
            "near(red block, green bowl)"
        );
        assert_eq!(canon("the red block is visible"), "visible(red block)");
        assert_eq!(
            canon("the red block has fallen off the table"),
            "off_table(red block)"
        );
        assert_eq!(
            canon("the red block is on the table"),
            "on(red block, table)"
        );
        assert_eq!(canon("the bowl is upright"), "upright(bowl)");
    }

    #[test]
    fn negation_flips() {
        assert_eq!(
            canon("the red block is not on the blue plate"),
            "not on(red block, blue plate)"
        );
        assert_eq!(
            canon("the red block isn't visible"),
            "not visible(red block)"
        );
        assert_eq!(canon("the gripper is not empty"), "not gripper_empty()");
    }

    #[test]
    fn imperative_goals_read_as_their_end_state() {
        assert_eq!(canon("pick up the red block"), "holding(red block)");
        assert_eq!(
            canon("put the red block on the blue plate"),
            "on(red block, blue plate)"
        );
        assert_eq!(
            canon("place the green block into the yellow bowl"),
            "in(green block, yellow bowl)"
        );
        assert_eq!(
            canon("stack the blue block on top of the red block"),
            "on(blue block, red block)"
        );
    }

    #[test]
    fn unknown_things_are_errors_not_guesses() {
        assert!(matches!(
            parse("the red block is happy"),
            Err(ParseError::NoRelation(_))
        ));
        assert!(matches!(
            parse("the shiny block is on the plate"),
            Err(ParseError::BadDescription(_))
        ));
        assert!(matches!(
            parse("the red blue block is on the plate"),
            Err(ParseError::BadDescription(_))
        ));
        assert!(matches!(parse("go home"), Err(ParseError::NoRelation(_))));
        assert!(matches!(parse(""), Err(ParseError::Length)));
        assert!(matches!(parse(&"x".repeat(300)), Err(ParseError::Length)));
    }

    #[test]
    fn sentences_round_trip() {
        for st in [
            "on(red block, blue plate)",
            "in(green block, yellow bowl)",
            "holding(red block)",
            "gripper_empty()",
            "left_of(red block, blue block)",
            "right_of(red block, blue block)",
            "near(red block, green bowl)",
            "visible(red block)",
            "upright(red block)",
            "off_table(red block)",
        ] {
            // Find a sentence whose parse is `st`, via the generator.
            let parsed = [
                "the red block is on the blue plate",
                "the green block is in the yellow bowl",
                "the gripper is holding the red block",
                "the gripper is empty",
                "the red block is left of the blue block",
                "the red block is right of the blue block",
                "the red block is near the green bowl",
                "the red block is visible",
                "the red block is upright",
                "the red block has fallen off the table",
            ]
            .iter()
            .map(|s| parse(s).unwrap())
            .find(|p| p.canonical() == st)
            .unwrap();
            assert_eq!(parse(&parsed.sentence()).unwrap(), parsed);
            let mut neg = parsed.clone();
            neg.negated = true;
            assert_eq!(parse(&neg.sentence()).unwrap(), neg, "{}", neg.sentence());
        }
    }
}
