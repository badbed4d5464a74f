//! OpenAI-compatible chat completions over HTTP.

use std::time::Duration;

use serde_json::{json, Value};

use crate::{estimate_tokens, ChatRequest, ChatResponse, LlmError, Message, Provider};

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Base URL up to and including `/v1`.
    pub base_url: String,
    /// Model id.
    pub model: String,
    /// Bearer key, if any.
    pub api_key: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries on 429 and 5xx (and on connection errors), backoff from `backoff`.
    pub retries: u32,
    /// First backoff delay; doubles each retry.
    pub backoff: Duration,
    /// Where the key comes from, for the message when it is refused.
    pub key_hint: String,
}

impl OpenAiConfig {
    /// `base_url` and `model`, key from `CAP_LLM_API_KEY` or `OPENAI_API_KEY`, 120 s
    /// timeout, 3 retries from 1 s.
    pub fn new(base_url: &str, model: &str) -> Self {
        let mut c = Self::with_key_from(base_url, model, &["CAP_LLM_API_KEY", "OPENAI_API_KEY"]);
        c.key_hint = "set CAP_LLM_API_KEY or --api-key".into();
        c
    }

    /// As [`Self::new`], with the key from the first of `vars` that is set.
    pub fn with_key_from(base_url: &str, model: &str, vars: &[&str]) -> Self {
        let api_key = vars
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|k| !k.is_empty()));
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            model: model.to_owned(),
            api_key,
            timeout: Duration::from_secs(120),
            retries: 3,
            backoff: Duration::from_secs(1),
            key_hint: format!("set {}", vars.first().copied().unwrap_or("the API key")),
        }
    }
}

/// The request body's messages: plain text content, or text and `image_url` parts.
fn wire_messages(messages: &[Message]) -> Vec<Value> {
    messages
        .iter()
        .map(|m| {
            if m.images.is_empty() {
                json!({"role": m.role, "content": m.content})
            } else {
                let mut parts = vec![json!({"type": "text", "text": m.content})];
                parts.extend(
                    m.images
                        .iter()
                        .map(|i| json!({"type": "image_url", "image_url": {"url": i.data_url()}})),
                );
                json!({"role": m.role, "content": parts})
            }
        })
        .collect()
}

/// The HTTP provider.
pub struct OpenAiProvider {
    config: OpenAiConfig,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl OpenAiProvider {
    /// A provider for `config`.
    pub fn new(config: OpenAiConfig) -> Result<Self, LlmError> {
        let unreachable = |message: String| LlmError::Unreachable {
            url: config.base_url.clone(),
            message,
        };
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10).min(config.timeout))
            .build()
            .map_err(|e| unreachable(format!("HTTP client: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| unreachable(format!("tokio runtime: {e}")))?;
        Ok(Self {
            config,
            client,
            runtime,
        })
    }

    async fn once(&self, url: &str, body: &Value) -> Result<(u16, String), LlmError> {
        let mut req = self.client.post(url).json(body);
        if let Some(k) = &self.config.api_key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.map_err(|e| LlmError::Unreachable {
            url: url.to_owned(),
            message: if e.is_timeout() {
                format!("timed out after {:?}", self.config.timeout)
            } else {
                e.to_string()
            },
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| LlmError::BadResponse {
            url: url.to_owned(),
            message: format!("reading the body: {e}"),
        })?;
        Ok((status, text))
    }
}

impl Provider for OpenAiProvider {
    fn id(&self) -> String {
        format!(
            "openai-compatible {} at {}",
            self.config.model, self.config.base_url
        )
    }

    fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let url = format!("{}/chat/completions", self.config.base_url);
        let body = json!({
            "model": self.config.model,
            "messages": wire_messages(&req.messages),
            "temperature": req.temperature,
            "max_tokens": req.max_tokens,
            // Providers that support it make sampling reproducible per sample index.
            "seed": req.sample,
        });
        self.runtime.block_on(async {
            let mut delay = self.config.backoff;
            let mut last = None;
            for attempt in 0..=self.config.retries {
                if attempt > 0 {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                let (status, text) = match self.once(&url, &body).await {
                    Ok(r) => r,
                    Err(e @ LlmError::Unreachable { .. }) => {
                        last = Some(e);
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                match status {
                    200..=299 => return parse(&url, &text, req, &self.config.model),
                    401 | 403 => {
                        return Err(LlmError::Auth {
                            url,
                            status,
                            hint: self.config.key_hint.clone(),
                        })
                    }
                    429 | 500..=599 => {
                        last = Some(LlmError::Http {
                            url: url.clone(),
                            status,
                            body: text.chars().take(300).collect(),
                        });
                    }
                    _ => {
                        return Err(LlmError::Http {
                            url,
                            status,
                            body: text.chars().take(300).collect(),
                        })
                    }
                }
            }
            Err(last.unwrap_or(LlmError::Unreachable {
                url,
                message: "no attempt was made".into(),
            }))
        })
    }
}

fn parse(url: &str, text: &str, req: &ChatRequest, model: &str) -> Result<ChatResponse, LlmError> {
    let bad = |message: String| LlmError::BadResponse {
        url: url.to_owned(),
        message,
    };
    let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let content = v["choices"][0]["message"]["content"]
        .as_str()
        .ok_or_else(|| bad("no choices[0].message.content".into()))?
        .to_owned();
    let prompt_chars: String = req.messages.iter().map(|m| m.content.as_str()).collect();
    Ok(ChatResponse {
        tokens_in: v["usage"]["prompt_tokens"]
            .as_u64()
            .unwrap_or_else(|| estimate_tokens(&prompt_chars)),
        tokens_out: v["usage"]["completion_tokens"]
            .as_u64()
            .unwrap_or_else(|| estimate_tokens(&content)),
        model: v["model"].as_str().unwrap_or(model).to_owned(),
        content,
        cached: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Image;

    #[test]
    fn text_messages_stay_strings_and_images_become_parts() {
        let m = wire_messages(&[
            Message::system("s"),
            Message::user_with_images("look", vec![Image::png(b"\x89PNG")]),
        ]);
        assert_eq!(m[0], json!({"role": "system", "content": "s"}));
        assert_eq!(m[1]["content"][0], json!({"type": "text", "text": "look"}));
        assert_eq!(
            m[1]["content"][1]["image_url"]["url"],
            json!("data:image/png;base64,iVBORw==")
        );
    }

    #[test]
    fn a_key_comes_from_the_named_variables() {
        let c = OpenAiConfig::with_key_from("http://h/v1/", "m", &["CAP_TEST_NO_SUCH_KEY_VAR"]);
        assert_eq!((c.base_url.as_str(), c.api_key), ("http://h/v1", None));
        assert_eq!(c.key_hint, "set CAP_TEST_NO_SUCH_KEY_VAR");
    }
}
