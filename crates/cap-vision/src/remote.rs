//! An inspector that asks a vision model behind an OpenAI-compatible chat completions
//! API (OpenAI, vLLM, Ollama, llama.cpp server), with the camera image attached as a
//! PNG data URL — what HyCodePolicy does with GPT-4o-class models.
//!
//! Every failure (dead endpoint, bad key, timeout, an answer that is not one of the
//! three words) is a "cannot tell" verdict whose detail says what happened.

use std::time::Duration;

use base64::Engine as _;
use cap_core::trace::{Answer, Verdict};
use serde_json::{json, Value};

use crate::{Inspector, Observation};

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// Base URL up to and including `/v1` (e.g. `http://localhost:8000/v1`).
    pub base_url: String,
    /// Model id.
    pub model: String,
    /// Bearer key, if the endpoint wants one.
    pub api_key: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries on 429 and 5xx, with exponential backoff from 0.5 s.
    pub retries: u32,
}

impl RemoteConfig {
    /// A config for `base_url` and `model`, key from `CAP_VISION_API_KEY` or
    /// `OPENAI_API_KEY`, 60 s timeout, 2 retries.
    pub fn new(base_url: &str, model: &str) -> Self {
        let api_key = ["CAP_VISION_API_KEY", "OPENAI_API_KEY"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|k| !k.is_empty()));
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            model: model.to_owned(),
            api_key,
            timeout: Duration::from_secs(60),
            retries: 2,
        }
    }
}

/// The system prompt: answer with one of three words and a confidence.
pub const SYSTEM_PROMPT: &str = "You check statements about a robot tabletop scene against a camera image. The robot stands at the far side of the table, facing the camera; 'left' and 'right' are the robot's (the image's right is the robot's left). Answer with exactly one word, holds, does_not_hold or cannot_tell, then a confidence between 0 and 1. Example: holds 0.9";

/// Asks a remote vision model.
pub struct RemoteInspector {
    config: RemoteConfig,
    agent: ureq::Agent,
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().map_err(|e| e.to_string())?;
        wr.write_image_data(rgb).map_err(|e| e.to_string())?;
    }
    Ok(out)
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
    /// An inspector for `config`.
    pub fn new(config: RemoteConfig) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Self { config, agent }
    }

    fn ask(&self, png: &[u8], statement: &str) -> Result<String, String> {
        let url = format!("{}/chat/completions", self.config.base_url);
        let data_url = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(png)
        );
        let body = json!({
            "model": self.config.model,
            "temperature": 0,
            "max_tokens": 16,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": [
                    {"type": "text", "text": format!("Statement: {statement}")},
                    {"type": "image_url", "image_url": {"url": data_url}}
                ]}
            ]
        });
        let mut delay = Duration::from_millis(500);
        for attempt in 0..=self.config.retries {
            let mut req = self
                .agent
                .post(&url)
                .header("Content-Type", "application/json");
            if let Some(k) = &self.config.api_key {
                req = req.header("Authorization", &format!("Bearer {k}"));
            }
            let mut resp = match req.send_json(&body) {
                Ok(r) => r,
                Err(e) => return Err(format!("{url}: {e}")),
            };
            let status = resp.status().as_u16();
            let text = resp
                .body_mut()
                .read_to_string()
                .map_err(|e| format!("{url}: reading the reply: {e}"))?;
            match status {
                200..=299 => {
                    let v: Value = serde_json::from_str(&text)
                        .map_err(|e| format!("{url}: reply is not JSON ({e})"))?;
                    return v["choices"][0]["message"]["content"]
                        .as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{url}: reply has no choices[0].message.content"));
                }
                401 | 403 => {
                    return Err(format!(
                        "{url}: HTTP {status}: the key was refused (set CAP_VISION_API_KEY)"
                    ))
                }
                429 | 500..=599 if attempt < self.config.retries => {
                    std::thread::sleep(delay);
                    delay *= 2;
                }
                _ => {
                    let snippet: String = text.chars().take(200).collect();
                    return Err(format!("{url}: HTTP {status}: {snippet}"));
                }
            }
        }
        Err(format!(
            "{url}: gave up after {} retries",
            self.config.retries
        ))
    }
}

impl Inspector for RemoteInspector {
    fn name(&self) -> &str {
        "remote"
    }

    fn model(&self) -> String {
        format!("{} at {}", self.config.model, self.config.base_url)
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
        let png = match encode_png(&frame.rgb, frame.width, frame.height) {
            Ok(p) => p,
            Err(e) => return verdict(Answer::CannotTell, 0.0, format!("encoding the image: {e}")),
        };
        match self.ask(&png, statement) {
            Err(e) => verdict(Answer::CannotTell, 0.0, e),
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
