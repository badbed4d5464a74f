//! cap's own vision-language inspector: a small CNN with a query-conditioned head,
//! trained on cap's renders (see `models/README.md`), run through ONNX Runtime on the
//! CPU. The model file and its card are embedded in the binary; `--vision-model`
//! selects another.
//!
//! Statements outside the model's vocabulary (a relation, colour or kind it was not
//! trained on, an unresolvable description) get "cannot tell", never a guess; so do
//! answers whose confidence is below the threshold.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use cap_core::scene::Scene;
use cap_core::trace::{Answer, Verdict};
use cap_core::vocabulary::sha256_hex;
use cap_sim::prelude::Frame;
use ort::session::Session;
use ort::value::Tensor;
use serde::Deserialize;

use crate::geometric::resolve;
use crate::statement::{parse_for, Desc, Statement, Thing};
use crate::{runtime, Inspector, Observation};

/// The model trained by `models/train_checkpoint_vlm.py`, embedded.
pub const EMBEDDED_ONNX: &[u8] = include_bytes!("../../../models/checkpoint_vlm.onnx");
/// Its card.
pub const EMBEDDED_CARD: &str = include_str!("../../../models/checkpoint_vlm.json");
/// Below this confidence the answer is "cannot tell", for a model whose card gives no
/// calibrated threshold for the relation.
pub const DEFAULT_MIN_CONFIDENCE: f64 = 0.75;

/// What the training script fitted on its validation split (`models/README.md`): the
/// temperatures are already in the model's graph, so its sigmoid is the calibrated
/// confidence; the thresholds are where answers become `cannot_tell`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Calibration {
    /// Per relation, the confidence below which the answer is "cannot tell".
    #[serde(default)]
    pub min_confidence: BTreeMap<String, f64>,
    /// Per relation, the temperature the logit was divided by.
    #[serde(default)]
    pub temperature: BTreeMap<String, f64>,
    /// Expected calibration error on the validation split before scaling.
    #[serde(default)]
    pub ece_before: Option<f64>,
    /// And after.
    #[serde(default)]
    pub ece_after: Option<f64>,
}

/// One statement put to the model, decided by the inspector's rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The statement as parsed.
    pub canonical: String,
    /// P(the un-negated statement holds), quantised.
    pub p_holds: f64,
    /// The answer (negation applied; `cannot_tell` below the threshold).
    pub answer: Answer,
    /// The confidence of the side the model chose.
    pub confidence: f64,
    /// The threshold that applied.
    pub threshold: f64,
}

/// The model card fields the inspector needs.
#[derive(Debug, Clone, Deserialize)]
pub struct Card {
    /// Model name.
    pub name: String,
    /// sha256 of the ONNX file.
    pub sha256: String,
    /// Input image side.
    pub image_size: usize,
    /// Relation vocabulary, in query order.
    pub relations: Vec<String>,
    /// Colour vocabulary.
    pub colors: Vec<String>,
    /// Kind vocabulary (`block`, `bowl`, `plate`, ..., `table`).
    pub kinds: Vec<String>,
    /// The calibration, when the card has one.
    #[serde(default)]
    pub calibration: Option<Calibration>,
}

/// The model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// ONNX Runtime is missing or unusable.
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
    /// Reading the model or card failed.
    #[error("reading {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The card is malformed or does not match the model.
    #[error("model card: {0}")]
    Card(String),
    /// ONNX Runtime refused the model.
    #[error("loading the model: {0}")]
    Session(String),
}

/// Why a statement cannot be put to the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A relation the model was not trained on.
    #[error("the model does not know the relation `{0}`")]
    UnknownRelation(String),
    /// A description with no kind, and no scene to find it in.
    #[error("`{0}` names no kind of object")]
    NoKind(String),
    /// A description with no colour, and no scene to find it in.
    #[error("the model needs a colour for `{0}`")]
    NeedsColour(String),
    /// A colour outside the model's training.
    #[error("the model was not trained on {0} objects")]
    UntrainedColour(String),
    /// A kind outside the model's training.
    #[error("the model was not trained on {0}s")]
    UntrainedKind(String),
    /// The description fits no object, or several, in the scene.
    #[error(transparent)]
    Resolve(#[from] crate::geometric::JudgeError),
}

/// Why the model gave no probability.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InferenceError {
    /// The pixels do not make a `width`×`height` RGB image.
    #[error("image data does not match {width}x{height} RGB")]
    BadImage {
        /// Claimed width.
        width: usize,
        /// Claimed height.
        height: usize,
    },
    /// ONNX Runtime failed.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// The model returned no logit.
    #[error("the model returned no logit")]
    NoLogit,
    /// The model returned NaN or infinity.
    #[error("the model returned a non-finite logit ({0})")]
    NonFinite(f32),
}

/// The ONNX vision inspector.
pub struct VisionInspector {
    session: Mutex<Session>,
    card: Card,
    /// A threshold the user set for every relation, over the card's.
    min_confidence: Option<f64>,
}

impl VisionInspector {
    /// The embedded model.
    pub fn embedded() -> Result<Self, VisionError> {
        Self::from_bytes(EMBEDDED_ONNX, EMBEDDED_CARD)
    }

    /// A model file; its card is the `.json` with the same stem beside it.
    pub fn from_file(onnx: &Path) -> Result<Self, VisionError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| VisionError::Read {
                path: p.display().to_string(),
                message: e.to_string(),
            })
        };
        let bytes = read(onnx)?;
        let card_path = onnx.with_extension("json");
        let card = String::from_utf8(read(&card_path)?).map_err(|e| VisionError::Read {
            path: card_path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_bytes(&bytes, &card)
    }

    fn from_bytes(onnx: &[u8], card: &str) -> Result<Self, VisionError> {
        let card: Card =
            serde_json::from_str(card).map_err(|e| VisionError::Card(e.to_string()))?;
        let sha = sha256_hex(onnx);
        if sha != card.sha256 {
            return Err(VisionError::Card(format!(
                "the model's sha256 {sha} is not the card's {}",
                card.sha256
            )));
        }
        if card.image_size == 0 || card.image_size > 1024 {
            return Err(VisionError::Card(format!("image_size {}", card.image_size)));
        }
        for (r, t) in card.calibration.iter().flat_map(|c| &c.min_confidence) {
            if !(0.5..=1.0).contains(t) {
                return Err(VisionError::Card(format!(
                    "calibration.min_confidence.{r} is {t}, not in 0.5..1"
                )));
            }
        }
        let (_, env) = runtime::init()?;
        let session = Session::builder(env)
            .map_err(|e| VisionError::Session(e.to_string()))?
            .with_intra_threads(1)
            .map_err(|e| VisionError::Session(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| VisionError::Session(e.to_string()))?
            .commit_from_memory(onnx)
            .map_err(|e| VisionError::Session(e.to_string()))?;
        Ok(Self {
            session: Mutex::new(session),
            card,
            min_confidence: None,
        })
    }

    /// Set the confidence below which answers become "cannot tell", for every
    /// relation (instead of the card's calibrated thresholds).
    pub fn with_min_confidence(mut self, c: f64) -> Self {
        self.min_confidence = Some(if c.is_finite() {
            c.clamp(0.5, 1.0)
        } else {
            1.0
        });
        self
    }

    /// The confidence below which an answer about `relation` is "cannot tell": the
    /// user's, else the card's calibrated one, else [`DEFAULT_MIN_CONFIDENCE`].
    pub fn threshold(&self, relation: &str) -> f64 {
        self.min_confidence
            .or_else(|| {
                self.card
                    .calibration
                    .as_ref()
                    .and_then(|c| c.min_confidence.get(relation).copied())
            })
            .unwrap_or(DEFAULT_MIN_CONFIDENCE)
    }

    /// The model card.
    pub fn card(&self) -> &Card {
        &self.card
    }

    fn desc_code(
        &self,
        d: &Desc,
        scene: Option<&Scene>,
    ) -> Result<(Option<usize>, usize), QueryError> {
        // Fill in what the description leaves out from the scene, when there is one.
        let (color, kind) = match (d.thing, scene) {
            (Some(Thing::Table), _) => (None, "table".to_owned()),
            (_, Some(scene)) if d.color.is_none() || d.thing.is_none() => {
                let o = &scene.objects[resolve(scene, d)?];
                (Some(o.color.clone()), o.noun().to_owned())
            }
            (Some(Thing::Object(k)), _) => (
                d.color.clone(),
                d.noun.clone().unwrap_or_else(|| k.noun().to_owned()),
            ),
            (None, _) => return Err(QueryError::NoKind(d.text())),
        };
        let Some(color) = color.or_else(|| (kind == "table").then(String::new)) else {
            return Err(QueryError::NeedsColour(d.text()));
        };
        let ci = if kind == "table" {
            None
        } else {
            Some(
                self.card
                    .colors
                    .iter()
                    .position(|c| *c == color)
                    .ok_or(QueryError::UntrainedColour(color))?,
            )
        };
        let ki = self
            .card
            .kinds
            .iter()
            .position(|k| *k == kind)
            .ok_or(QueryError::UntrainedKind(kind))?;
        Ok((ci, ki))
    }

    /// The query vector for a statement.
    pub fn encode(&self, st: &Statement, scene: Option<&Scene>) -> Result<Vec<f32>, QueryError> {
        let (r, c, k) = (
            self.card.relations.len(),
            self.card.colors.len(),
            self.card.kinds.len(),
        );
        let mut q = vec![0.0f32; r + 2 * (c + k)];
        let ri = self
            .card
            .relations
            .iter()
            .position(|x| x == st.relation.label())
            .ok_or_else(|| QueryError::UnknownRelation(st.relation.label().to_owned()))?;
        q[ri] = 1.0;
        for (slot, d) in [&st.subject, &st.object].into_iter().enumerate() {
            if let Some(d) = d {
                let off = r + slot * (c + k);
                let (ci, ki) = self.desc_code(d, scene)?;
                if let Some(ci) = ci {
                    q[off + ci] = 1.0;
                }
                q[off + c + ki] = 1.0;
            }
        }
        Ok(q)
    }

    /// P(statement holds) for an RGB image of any size (resized to the model's input).
    pub fn probability(
        &self,
        rgb: &[u8],
        width: usize,
        height: usize,
        query: &[f32],
    ) -> Result<f32, InferenceError> {
        if width == 0 || height == 0 || rgb.len() != width * height * 3 {
            return Err(InferenceError::BadImage { width, height });
        }
        let s = self.card.image_size;
        let small = if width == s && height == s {
            rgb.to_vec()
        } else {
            resize_area(rgb, width, height, s)
        };
        // HWC u8 → CHW f32 in 0..1.
        let mut chw = vec![0.0f32; 3 * s * s];
        for (i, px) in small.chunks_exact(3).enumerate() {
            for c in 0..3 {
                chw[c * s * s + i] = f32::from(px[c]) / 255.0;
            }
        }
        let ort = |e: ort::Error| InferenceError::Runtime(e.to_string());
        let image = Tensor::from_array(([1usize, 3, s, s], chw)).map_err(ort)?;
        let q = Tensor::from_array(([1usize, query.len()], query.to_vec())).map_err(ort)?;
        let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let out = session
            .run(ort::inputs!["image" => image, "query" => q])
            .map_err(ort)?;
        let (_, logits) = out["logit"].try_extract_tensor::<f32>().map_err(ort)?;
        let logit = *logits.first().ok_or(InferenceError::NoLogit)?;
        if !logit.is_finite() {
            return Err(InferenceError::NonFinite(logit));
        }
        Ok(1.0 / (1.0 + (-logit).exp()))
    }

    /// Put `statement` to the model on an RGB image, resolving descriptions in `scene`
    /// if given, and decide as the inspector does; why not, when it cannot be put.
    pub fn assess(
        &self,
        rgb: &[u8],
        width: usize,
        height: usize,
        statement: &str,
        scene: Option<&Scene>,
    ) -> Result<Assessment, String> {
        let st = parse_for(statement, scene).map_err(|e| e.to_string())?;
        let q = self
            .encode(&st, scene)
            .map_err(|e| format!("{}: {e}", st.canonical()))?;
        let p = self
            .probability(rgb, width, height, &q)
            .map_err(|e| format!("{}: {e}", st.canonical()))?;
        // Quantised before anything is decided, so the answer, the threshold test and
        // the trace agree on every machine (cap_core::trace::CONFIDENCE_STEP).
        let p = cap_core::trace::quantise_confidence(f64::from(p));
        let (answer, confidence) = if p >= 0.5 {
            (Answer::Holds, p)
        } else {
            (Answer::DoesNotHold, 1.0 - p)
        };
        let answer = if st.negated { answer.negate() } else { answer };
        let threshold = self.threshold(st.relation.label());
        Ok(Assessment {
            canonical: st.canonical(),
            p_holds: p,
            answer: if confidence < threshold {
                Answer::CannotTell
            } else {
                answer
            },
            confidence,
            threshold,
        })
    }

    /// Judge `statement` on an RGB image, resolving descriptions in `scene` if given.
    pub fn judge_image(
        &self,
        rgb: &[u8],
        width: usize,
        height: usize,
        statement: &str,
        scene: Option<&Scene>,
    ) -> Verdict {
        let verdict = |answer, confidence: f64, detail: String| Verdict {
            inspector: "vision".into(),
            model: self.model(),
            answer,
            confidence,
            detail: Some(detail),
        };
        match self.assess(rgb, width, height, statement, scene) {
            Err(detail) => verdict(Answer::CannotTell, 0.0, detail),
            Ok(a) if a.answer == Answer::CannotTell => verdict(
                Answer::CannotTell,
                a.confidence,
                format!(
                    "{}: confidence {:.2} below {:.2}",
                    a.canonical, a.confidence, a.threshold
                ),
            ),
            Ok(a) => verdict(a.answer, a.confidence, a.canonical),
        }
    }
}

/// 2×2 box average of an RGB image (224 → 112).
pub fn downsample(rgb: &[u8], w: usize, h: usize, out_side: usize) -> Vec<u8> {
    let mut out = vec![0u8; out_side * out_side * 3];
    for y in 0..out_side {
        for x in 0..out_side {
            // Area average over the source pixels that fall in the destination pixel.
            let (x0, x1) = (
                x * w / out_side,
                ((x + 1) * w / out_side).max(x * w / out_side + 1),
            );
            let (y0, y1) = (
                y * h / out_side,
                ((y + 1) * h / out_side).max(y * h / out_side + 1),
            );
            for c in 0..3 {
                let mut sum = 0u32;
                for sy in y0..y1 {
                    for sx in x0..x1 {
                        sum += u32::from(rgb[(sy * w + sx) * 3 + c]);
                    }
                }
                let n = ((y1 - y0) * (x1 - x0)) as u32;
                out[(y * out_side + x) * 3 + c] = ((sum + n / 2) / n) as u8;
            }
        }
    }
    out
}

/// Area-average resize of an RGB image to a `side`×`side` square.
pub fn resize_area(rgb: &[u8], w: usize, h: usize, side: usize) -> Vec<u8> {
    if w == h {
        return downsample(rgb, w, h, side);
    }
    // Non-square: centre-crop to a square first.
    let m = w.min(h);
    let (x0, y0) = ((w - m) / 2, (h - m) / 2);
    let mut sq = Vec::with_capacity(m * m * 3);
    for y in y0..y0 + m {
        sq.extend_from_slice(&rgb[(y * w + x0) * 3..(y * w + x0 + m) * 3]);
    }
    downsample(&sq, m, m, side)
}

impl Inspector for VisionInspector {
    fn name(&self) -> &str {
        "vision"
    }

    fn model(&self) -> String {
        format!(
            "{} (sha256 {})",
            self.card.name,
            &self.card.sha256[..12.min(self.card.sha256.len())]
        )
    }

    fn inspect(&self, obs: &Observation<'_>, statement: &str) -> Verdict {
        let scene = obs.world.map(|w| w.scene());
        let rendered;
        let frame: &Frame = match (obs.frames.first(), obs.world) {
            (Some(f), _) => f,
            (None, Some(w)) => match w.scene().cameras.first() {
                Some(c) => {
                    rendered = w.render(c);
                    &rendered
                }
                None => {
                    return Verdict {
                        inspector: "vision".into(),
                        model: self.model(),
                        answer: Answer::CannotTell,
                        confidence: 0.0,
                        detail: Some("the scene has no camera".into()),
                    }
                }
            },
            (None, None) => {
                return Verdict {
                    inspector: "vision".into(),
                    model: self.model(),
                    answer: Answer::CannotTell,
                    confidence: 0.0,
                    detail: Some("no image to look at".into()),
                }
            }
        };
        self.judge_image(
            &frame.rgb,
            frame.width as usize,
            frame.height as usize,
            statement,
            scene,
        )
    }
}
