//! An inspector that asks a vision model behind an OpenAI-compatible chat completions
//! API (OpenAI, vLLM, Ollama, llama.cpp server), with the camera image attached as a
//! PNG data URL — what HyCodePolicy does with GPT-4o-class models. The request goes
//! through cap-llm's client (the same retries, status mapping and reply parsing as the
//! code-writing model).
//!
//! Every failure (dead endpoint, bad key, timeout, an answer that is not one of the
//! three words) is a "cannot tell" verdict whose detail says what happened.

use std::time::Duration;

use cap_core::trace::{Answer, Verdict};
use cap_llm::{ChatRequest, Image, LlmError, Message, OpenAiConfig, OpenAiProvider, Provider};

use crate::{Inspector, Observation};

/// The endpoint settings for a vision model at `base_url` called `model`: cap-llm's
/// OpenAI-compatible client, key from `CAP_VISION_API_KEY` or `OPENAI_API_KEY`, 60 s
/// timeout, 2 retries on 429/5xx and dead connections from 0.5 s.
pub fn config(base_url: &str, model: &str) -> OpenAiConfig {
    let mut c =
        OpenAiConfig::with_key_from(base_url, model, &["CAP_VISION_API_KEY", "OPENAI_API_KEY"]);
    c.timeout = Duration::from_secs(60);
    c.retries = 2;
    c.backoff = Duration::from_millis(500);
    c
}

/// The system prompt: answer with one of three words and a confidence.
pub const SYSTEM_PROMPT: &str = "You check statements about a robot tabletop scene against a camera image. The robot stands at the far side of the table, facing the camera; 'left' and 'right' are the robot's (the image's right is the robot's left). Answer with exactly one word, holds, does_not_hold or cannot_tell, then a confidence between 0 and 1. Example: holds 0.9";

/// Asks a vision model through a [`Provider`] (the one OpenAI-compatible client of
/// `cap-llm`, or any other, e.g. a cached or scripted one).
pub struct RemoteInspector {
    provider: Box<dyn Provider>,
}

/// Read "holds 0.9" / "does_not_hold" / "cannot tell (0.3)" from a reply.
pub fn parse_answer(text: &str) -> Option<(Answer, f64)> {
    let t = text.trim().to_lowercase().replace(['-', ' '], "_");
    let (answer, rest) = [
        ("does_not_hold", Answer::DoesNotHold),
        ("cannot_tell", Answer::CannotTell),
        ("holds", Answer::Holds),
    ]
    .into_iter()
    .find_map(|(w, a)| t.strip_prefix(w).map(|r| (a, r)))?;
    let conf = rest
        .trim_matches(|c: char| c == '_' || c == ':' || c == '(' || c == ')' || c == ',')
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .and_then(|n| n.parse::<f64>().ok())
        .filter(|c| (0.0..=1.0).contains(c))
        .unwrap_or(if answer == Answer::CannotTell {
            0.0
        } else {
            0.5
        });
    Some((answer, conf))
}

impl RemoteInspector {
    /// An inspector asking the endpoint of `config` (see [`config`]).
    pub fn new(config: OpenAiConfig) -> Result<Self, LlmError> {
        Ok(Self::with_provider(Box::new(OpenAiProvider::new(config)?)))
    }

    /// An inspector asking `provider`.
    pub fn with_provider(provider: Box<dyn Provider>) -> Self {
        Self { provider }
    }

    fn ask(&self, png: &[u8], statement: &str) -> Result<String, LlmError> {
        let req = ChatRequest {
            messages: vec![
                Message::system(SYSTEM_PROMPT),
                Message::user_with_images(format!("Statement: {statement}"), vec![Image::png(png)]),
            ],
            temperature: 0.0,
            max_tokens: 16,
            sample: 0,
            grammar: None,
            dry: None,
        };
        Ok(self.provider.chat(&req)?.content)
    }
}

impl Inspector for RemoteInspector {
    fn name(&self) -> &str {
        "remote"
    }

    fn model(&self) -> String {
        self.provider.id()
    }

    fn inspect(&self, obs: &Observation<'_>, statement: &str) -> Verdict {
        let verdict = |answer, confidence: f64, detail: String| Verdict {
            inspector: "remote".into(),
            model: self.model(),
            answer,
            confidence: cap_core::trace::quantise_confidence(confidence),
            detail: Some(detail),
        };
        let rendered;
        let frame = match (
            obs.frames.first(),
            obs.world
                .and_then(|w| w.scene().cameras.first().map(|c| (w, c))),
        ) {
            (Some(f), _) => f,
            (None, Some((w, c))) => {
                rendered = w.render(c);
                &rendered
            }
            (None, None) => return verdict(Answer::CannotTell, 0.0, "no image to send".into()),
        };
        let png = match crate::png_io::encode_rgb(&frame.rgb, frame.width, frame.height) {
            Ok(p) => p,
            Err(e) => return verdict(Answer::CannotTell, 0.0, format!("encoding the image: {e}")),
        };
        match self.ask(&png, statement) {
            Err(e) => verdict(Answer::CannotTell, 0.0, e.to_string()),
            Ok(reply) => match parse_answer(&reply) {
                Some((a, c)) => verdict(a, c, format!("model said: {}", reply.trim())),
                None => verdict(
                    Answer::CannotTell,
                    0.0,
                    format!(
                        "unusable answer: {:?}",
                        reply.chars().take(120).collect::<String>()
                    ),
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_llm::ChatResponse;
    use std::sync::Mutex;

    type Script = Vec<Result<String, LlmError>>;

    /// Answers from a script and keeps the requests.
    struct Scripted(Mutex<(Script, Vec<ChatRequest>)>);

    impl Provider for Scripted {
        fn id(&self) -> String {
            "scripted".into()
        }
        fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
            let mut s = self.0.lock().map_err(|_| LlmError::Generation {
                message: "poisoned".into(),
            })?;
            s.1.push(req.clone());
            let content = s.0.remove(0)?;
            Ok(ChatResponse {
                content,
                tokens_in: 0,
                tokens_out: 0,
                model: "scripted".into(),
                cached: false,
            })
        }
    }

    #[test]
    fn the_frame_goes_as_a_png_and_failures_are_cannot_tell() {
        let script = vec![
            Ok("does_not_hold 0.8".to_owned()),
            Err(LlmError::Unreachable {
                url: "http://x/v1".into(),
                message: "refused".into(),
            }),
        ];
        let provider = std::sync::Arc::new(Scripted(Mutex::new((script, Vec::new()))));
        struct Shared(std::sync::Arc<Scripted>);
        impl Provider for Shared {
            fn id(&self) -> String {
                self.0.id()
            }
            fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
                self.0.chat(req)
            }
        }
        let r = RemoteInspector::with_provider(Box::new(Shared(provider.clone())));
        let frame = cap_sim::prelude::Frame {
            camera: "c".into(),
            width: 2,
            height: 1,
            rgb: vec![255, 0, 0, 0, 0, 255],
            depth_m: vec![0.0; 2],
            seg: vec![0; 2],
        };
        let obs = Observation {
            world: None,
            frames: std::slice::from_ref(&frame),
        };
        let v = r.inspect(&obs, "the red block is on the table");
        assert_eq!((v.answer, v.confidence), (Answer::DoesNotHold, 0.8));
        assert_eq!(v.model, "scripted");
        let v = r.inspect(&obs, "the red block is on the table");
        assert_eq!(v.answer, Answer::CannotTell);
        assert!(v
            .detail
            .unwrap_or_default()
            .contains("cannot reach http://x/v1"));
        let seen = provider.0.lock().map(|s| s.1.clone()).unwrap_or_default();
        let user = &seen[0].messages[1];
        assert!(user.content.contains("the red block is on the table"));
        assert_eq!(user.images.len(), 1);
        assert_eq!(user.images[0].media_type, "image/png");
        assert!(user.images[0].base64.starts_with("iVBOR"), "PNG magic");
        // No frame and no world: nothing to send.
        let none = Observation {
            world: None,
            frames: &[],
        };
        assert_eq!(r.inspect(&none, "x").answer, Answer::CannotTell);
    }

    #[test]
    fn answers_are_read_strictly() {
        assert_eq!(parse_answer("holds 0.9"), Some((Answer::Holds, 0.9)));
        assert_eq!(
            parse_answer("Does not hold (0.7)"),
            Some((Answer::DoesNotHold, 0.7))
        );
        assert_eq!(parse_answer("cannot_tell"), Some((Answer::CannotTell, 0.0)));
        assert_eq!(parse_answer("holds"), Some((Answer::Holds, 0.5)));
        assert_eq!(
            parse_answer("holds 7"),
            Some((Answer::Holds, 0.5)),
            "out of range"
        );
        assert_eq!(parse_answer("Yes, the block is on the plate"), None);
        assert_eq!(parse_answer(""), None);
    }
}
