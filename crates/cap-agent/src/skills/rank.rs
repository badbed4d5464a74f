//! Retrieval: the skills most like a new instruction, by BM25 (the `bm25` crate, with
//! English stemming so "blocks" meets "block", and stop words kept because "in", "on"
//! and "all" matter here) over each skill's instruction, with colour words made one
//! word and a few synonyms folded, among the skills whose objects the scene has.

use bm25::{DefaultTokenizer, Embedder, EmbedderBuilder, Language, Scorer};

use super::{Library, Skill};

/// What to find skills for.
#[derive(Debug, Clone, Default)]
pub struct Query<'a> {
    /// The new instruction.
    pub instruction: &'a str,
    /// The nouns of the new scene's objects.
    pub kinds: &'a [String],
    /// Leave-one-out: never return a skill of this task, nor one whose instruction is
    /// this instruction (how a task is scored against a library it is not in).
    pub leave_out: Option<LeaveOut<'a>>,
}

/// The task a leave-one-out query is for.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeaveOut<'a> {
    /// The task's name, if it has one.
    pub task: Option<&'a str>,
}

/// A retrieved skill and its score (higher is more similar).
#[derive(Debug, Clone)]
pub struct Ranked<'a> {
    /// The skill.
    pub skill: &'a Skill,
    /// Its BM25 score.
    pub score: f32,
}

/// Words that say the same thing in an instruction, folded to one before ranking (BM25
/// weighs a rare word heavily, so "every" would otherwise never meet "each").
const SAME: &[(&str, &str)] = &[
    ("every", "all"),
    ("each", "all"),
    ("into", "in"),
    ("inside", "in"),
    ("onto", "on"),
    ("atop", "on"),
    ("colour", "color"),
    ("colours", "color"),
    ("colors", "color"),
    ("cubes", "block"),
    ("cans", "cylinder"),
];

/// What a palette colour becomes: colours are a task's parameters, not its shape, so
/// "put the green block in the yellow bowl" is most like "put the blue block in the
/// red bowl", not like "put all the blocks in the green bowl".
const HUE: &str = "hue";

/// Articles say nothing about a task (and "the" four times made a long instruction
/// look like anything); "in", "on" and "all" stay.
const ARTICLES: &[&str] = &["the", "a", "an"];

/// The words BM25 ranks on: the instruction's, folded. The scene's object kinds are not
/// among them (a kind only one shipped scene has, the cylinder, made every skill of that
/// scene outrank the ones that do the same thing); they decide which skills transfer.
fn document(instruction: &str) -> String {
    cap_core::vocabulary::words(instruction)
        .into_iter()
        .filter(|w| !ARTICLES.contains(&w.as_str()))
        .map(|w| {
            if cap_core::scene::color_rgb(&w).is_some() {
                return HUE.to_owned();
            }
            // A kind's other words ("can", "cube", "dish") are the kind's noun.
            if let Some(k) = cap_core::scene::ObjectKind::PRIMITIVES
                .iter()
                .find(|k| k.noun() != w && k.synonyms().contains(&w.as_str()))
            {
                return k.noun().to_owned();
            }
            SAME.iter()
                .find(|(from, _)| *from == w)
                .map_or(w, |(_, to)| (*to).to_owned())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn tokenizer() -> DefaultTokenizer {
    DefaultTokenizer::builder()
        .language_mode(Language::English)
        .stemming(true)
        .stopwords(false)
        .normalization(true)
        .build()
}

/// Whether a skill can serve as an example in a scene of `kinds`: every kind of object
/// its instruction names is there too (a mug's program does not show how to move a
/// block). With no kinds given, every skill can.
fn transfers(skill: &Skill, kinds: &[String]) -> bool {
    kinds.is_empty()
        || cap_core::vocabulary::words(&skill.instruction)
            .iter()
            .map(|w| {
                w.strip_suffix('s')
                    .filter(|_| !skill.kinds.contains(w))
                    .unwrap_or(w)
            })
            .filter(|w| skill.kinds.iter().any(|k| k == w))
            .all(|w| kinds.iter().any(|k| k == w))
}

impl Library {
    /// The `k` skills most like `q`, best first (ties by id); only skills sharing at
    /// least one word with the query.
    pub fn retrieve(&self, q: &Query<'_>, k: usize) -> Vec<Ranked<'_>> {
        let words = cap_core::vocabulary::words(q.instruction);
        let pool: Vec<&Skill> = self
            .skills()
            .iter()
            .filter(|s| transfers(s, q.kinds))
            .filter(|s| match &q.leave_out {
                None => true,
                Some(l) => {
                    l.task.is_none_or(|t| s.task.as_deref() != Some(t))
                        && cap_core::vocabulary::words(&s.instruction) != words
                }
            })
            .collect();
        if pool.is_empty() || k == 0 {
            return Vec::new();
        }
        let docs: Vec<String> = pool.iter().map(|s| document(&s.instruction)).collect();
        let corpus: Vec<&str> = docs.iter().map(String::as_str).collect();
        let embedder: Embedder =
            EmbedderBuilder::with_tokenizer_and_fit_to_corpus(tokenizer(), &corpus).build();
        let mut scorer = Scorer::<usize>::new();
        for (i, d) in docs.iter().enumerate() {
            scorer.upsert(&i, embedder.embed(d));
        }
        let query = embedder.embed(&document(q.instruction));
        let mut ranked: Vec<Ranked<'_>> = pool
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let score = scorer.score(&i, &query)?;
                (score.is_finite() && score > 0.0).then_some(Ranked { skill: s, score })
            })
            .collect();
        ranked.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.skill.id.cmp(&b.skill.id))
        });
        ranked.truncate(k);
        ranked
    }
}

#[cfg(test)]
mod tests {
    use super::document;

    #[test]
    fn documents_fold_colours_articles_and_other_words_for_a_kind() {
        assert_eq!(
            document("Drop the can into the blue dish, then every cube"),
            "drop cylinder in hue plate then all block"
        );
        assert_eq!(document("put a ball on it"), "put ball on it");
    }
}
