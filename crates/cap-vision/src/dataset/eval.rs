//! `cap dataset --eval`: the vision inspector on any directory of labelled renders
//! (what `cap dataset` writes), scored against the labels.
//!
//! Every statement goes through the inspector's own decision ([`VisionInspector::assess`]:
//! parse, encode, infer, quantise, threshold), so the figures are what `cap exec`
//! would answer. Per relation: accuracy at 0.5 on every statement, the share answered
//! (not `cannot_tell`), accuracy on those, the confident wrong answers (confidence
//! ≥ [`CONFIDENT`] and wrong, as a share of those answered), and the expected
//! calibration error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cap_core::trace::Answer;
use serde::{Deserialize, Serialize};

use crate::vision::VisionInspector;
use crate::Inspector;

/// An answer at this confidence or more that is wrong is a "confident wrong answer".
pub const CONFIDENT: f64 = 0.9;
/// Equal-width confidence bins over [0.5, 1] for the calibration error.
pub const ECE_BINS: usize = 10;

/// Why a directory could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file could not be read.
    #[error("reading {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A file is malformed.
    #[error("{path}:{line}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// Line (1-based; 0 for the whole file).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
struct Meta {
    images: usize,
    image_size: usize,
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Labelled {
    image: usize,
    relation: String,
    sentence: String,
    label: bool,
}

/// Scores over a set of statements.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Score {
    /// Statements.
    pub statements: usize,
    /// Right at a 0.5 threshold, every statement put to the model counted.
    pub accuracy: f64,
    /// Share answered (not `cannot_tell`).
    pub answered: f64,
    /// Right among those answered.
    pub answered_accuracy: f64,
    /// Confident (≥ [`CONFIDENT`]) and wrong, as a share of those answered.
    pub confident_wrong: f64,
    /// Expected calibration error of the confidence, every statement counted.
    pub ece: f64,
}

/// The evaluation of one directory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// The directory.
    pub dir: String,
    /// Its family (`meta.json`), if it says.
    pub family: Option<String>,
    /// Its seed, if it says.
    pub seed: Option<u64>,
    /// Images.
    pub images: usize,
    /// The model (name and sha256 prefix).
    pub model: String,
    /// Per relation.
    pub per_relation: BTreeMap<String, Score>,
    /// Over all statements.
    pub all: Score,
    /// Statements the inspector could not put to the model (outside its vocabulary):
    /// `cannot_tell`, so not answered.
    pub unencodable: usize,
}

/// One statement's outcome.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    /// Right at 0.5.
    right: bool,
    /// Confidence of the side chosen at 0.5.
    confidence: f64,
    /// Answered (not below the threshold).
    answered: bool,
    /// Put to the model at all (a statement outside its vocabulary is `cannot_tell`
    /// without a probability: counted in the share answered, not in accuracy or ECE).
    encoded: bool,
}

fn score(outcomes: &[Outcome]) -> Score {
    let n = outcomes.len();
    if n == 0 {
        return Score::default();
    }
    let share = |k: usize, of: usize| if of == 0 { 0.0 } else { k as f64 / of as f64 };
    let encoded: Vec<Outcome> = outcomes.iter().filter(|o| o.encoded).copied().collect();
    let right = encoded.iter().filter(|o| o.right).count();
    let answered: Vec<&Outcome> = outcomes.iter().filter(|o| o.answered).collect();
    let answered_right = answered.iter().filter(|o| o.right).count();
    let confident_wrong = answered
        .iter()
        .filter(|o| !o.right && o.confidence >= CONFIDENT)
        .count();
    Score {
        statements: n,
        accuracy: share(right, encoded.len()),
        answered: share(answered.len(), n),
        answered_accuracy: share(answered_right, answered.len()),
        confident_wrong: share(confident_wrong, answered.len()),
        ece: ece(&encoded),
    }
}

/// Expected calibration error over [`ECE_BINS`] equal-width bins of [0.5, 1].
fn ece(outcomes: &[Outcome]) -> f64 {
    let mut bins = [(0usize, 0.0f64, 0usize); ECE_BINS];
    for o in outcomes {
        let b = (((o.confidence - 0.5) * 2.0 * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
        bins[b].0 += 1;
        bins[b].1 += o.confidence;
        bins[b].2 += usize::from(o.right);
    }
    let n = outcomes.len().max(1) as f64;
    bins.iter()
        .filter(|(k, _, _)| *k > 0)
        .map(|&(k, conf, right)| {
            let k_f = k as f64;
            (k_f / n) * (right as f64 / k_f - conf / k_f).abs()
        })
        .sum()
}

fn read(path: &Path) -> Result<Vec<u8>, EvalError> {
    std::fs::read(path).map_err(|e| EvalError::Read {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Evaluate the inspectors `make` builds (one per thread) on `dir`; `progress` is
/// called with the number of statements done.
pub fn evaluate(
    dir: &Path,
    make: &(dyn Fn() -> Result<VisionInspector, crate::vision::VisionError> + Sync),
    threads: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report, EvalError> {
    let meta_path = dir.join("meta.json");
    let meta: Meta = serde_json::from_slice(&read(&meta_path)?).map_err(|e| EvalError::Format {
        path: meta_path.clone(),
        line: e.line(),
        message: e.to_string(),
    })?;
    let images_path = dir.join("images.u8");
    let images = read(&images_path)?;
    let side = meta.image_size;
    let per_image = side * side * 3;
    if side == 0 || images.len() != meta.images * per_image {
        return Err(EvalError::Format {
            path: images_path,
            line: 0,
            message: format!(
                "{} bytes is not {} images of {side}x{side} RGB",
                images.len(),
                meta.images
            ),
        });
    }
    let samples_path = dir.join("samples.jsonl");
    let text = String::from_utf8(read(&samples_path)?).map_err(|e| EvalError::Format {
        path: samples_path.clone(),
        line: 0,
        message: e.to_string(),
    })?;
    let mut samples = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let s: Labelled = serde_json::from_str(line).map_err(|e| EvalError::Format {
            path: samples_path.clone(),
            line: i + 1,
            message: e.to_string(),
        })?;
        if s.image >= meta.images {
            return Err(EvalError::Format {
                path: samples_path.clone(),
                line: i + 1,
                message: format!("image {} of {}", s.image, meta.images),
            });
        }
        samples.push(s);
    }
    let model_error = |e: crate::vision::VisionError| EvalError::Read {
        path: PathBuf::from("the vision model"),
        message: e.to_string(),
    };
    let model = make().map_err(model_error)?.model();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<Outcome>>> =
        std::sync::Mutex::new(vec![None; samples.len()]);
    // (None only if a worker died before reaching the statement.)
    let failed: std::sync::Mutex<Option<EvalError>> = std::sync::Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                let inspector = match make() {
                    Ok(i) => i,
                    Err(e) => {
                        if let Ok(mut f) = failed.lock() {
                            *f = Some(model_error(e));
                        }
                        return;
                    }
                };
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(sample) = samples.get(i) else {
                        break;
                    };
                    let rgb = &images[sample.image * per_image..(sample.image + 1) * per_image];
                    let outcome = inspector
                        .assess(rgb, side, side, &sample.sentence, None)
                        .map_or(
                            Outcome {
                                right: false,
                                confidence: 0.5,
                                answered: false,
                                encoded: false,
                            },
                            |a| Outcome {
                                right: (a.p_holds >= 0.5) == sample.label,
                                confidence: a.p_holds.max(1.0 - a.p_holds),
                                answered: a.answer != Answer::CannotTell,
                                encoded: true,
                            },
                        );
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(outcome);
                    }
                    let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    progress(d, samples.len());
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut by_relation: BTreeMap<String, Vec<Outcome>> = BTreeMap::new();
    let mut all = Vec::new();
    let mut unencodable = 0;
    for (s, o) in samples.iter().zip(&results) {
        let Some(o) = o else {
            continue;
        };
        unencodable += usize::from(!o.encoded);
        by_relation.entry(s.relation.clone()).or_default().push(*o);
        all.push(*o);
    }
    Ok(Report {
        dir: dir.display().to_string(),
        family: meta.family,
        seed: meta.seed,
        images: meta.images,
        model,
        per_relation: by_relation
            .iter()
            .map(|(r, o)| (r.clone(), score(o)))
            .collect(),
        all: score(&all),
        unencodable,
    })
}

/// The report as a table (one row per relation, then all).
pub fn table(report: &Report) -> String {
    let mut t = format!(
        "{} ({} images{}), {}\n",
        report.dir,
        report.images,
        report
            .family
            .as_deref()
            .map(|f| format!(", family {f}"))
            .unwrap_or_default(),
        report.model
    );
    t.push_str(&format!(
        "{:<14} {:>10} {:>9} {:>9} {:>10} {:>10} {:>7}\n",
        "relation", "statements", "accuracy", "answered", "ans. acc.", "conf.wrong", "ECE"
    ));
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    let row = |name: &str, s: &Score| {
        format!(
            "{:<14} {:>10} {:>9} {:>9} {:>10} {:>10} {:>7.3}\n",
            name,
            s.statements,
            pct(s.accuracy),
            pct(s.answered),
            pct(s.answered_accuracy),
            pct(s.confident_wrong),
            s.ece
        )
    };
    for (r, s) in &report.per_relation {
        t.push_str(&row(r, s));
    }
    t.push_str(&row("all", &report.all));
    if report.unencodable > 0 {
        t.push_str(&format!(
            "{} statements are outside the model's vocabulary: cannot_tell (in the share answered, not in accuracy or ECE)\n",
            report.unencodable
        ));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(right: bool, confidence: f64, answered: bool) -> Outcome {
        Outcome {
            right,
            confidence,
            answered,
            encoded: true,
        }
    }

    #[test]
    fn scores_count_answers_and_confident_mistakes() {
        let s = score(&[
            o(true, 0.99, true),
            o(true, 0.95, true),
            o(false, 0.97, true),
            o(false, 0.6, false),
        ]);
        assert_eq!(s.statements, 4);
        assert!((s.accuracy - 0.5).abs() < 1e-12);
        assert!((s.answered - 0.75).abs() < 1e-12);
        assert!((s.answered_accuracy - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.confident_wrong - 1.0 / 3.0).abs() < 1e-12);
        // A statement the model cannot take is not answered and not in the accuracy.
        let mut v = vec![o(true, 0.99, true)];
        v.push(Outcome {
            encoded: false,
            ..o(false, 0.5, false)
        });
        let s = score(&v);
        assert!((s.accuracy - 1.0).abs() < 1e-12);
        assert!((s.answered - 0.5).abs() < 1e-12);
    }

    #[test]
    fn calibration_error_is_zero_when_confidence_matches_accuracy() {
        // 10 answers at 0.8, 8 right: calibrated.
        let mut v: Vec<Outcome> = (0..8).map(|_| o(true, 0.8, true)).collect();
        v.extend((0..2).map(|_| o(false, 0.8, true)));
        assert!(ece(&v) < 1e-12);
        // Always 0.99 confident, half right: error ~0.49.
        let v: Vec<Outcome> = (0..10).map(|i| o(i % 2 == 0, 0.99, true)).collect();
        assert!((ece(&v) - 0.49).abs() < 1e-9);
    }
}
