//! `cap-llm`: language-model providers behind one interface.
//!
//! * [`openai`] — OpenAI-compatible chat completions over HTTP (OpenAI, vLLM, Ollama,
//!   llama.cpp server), on tokio + reqwest, with timeouts and retries on 429/5xx.
//! * [`cache`] — a response cache keyed by the sha256 of the full request: a second
//!   run of the same task replays bit-identically, offline; `replay_only` fails fast
//!   on a miss.
//!
//! * [`local`] (feature `local`, on by default) — the embedded model: a GGUF file run
//!   in-process by llama.cpp, the default when no endpoint is configured; decoding can
//!   be constrained by a grammar ([`ChatRequest::grammar`]).
//!
//! Messages may carry images ([`Image`]): the remote vision inspector of `cap-vision`
//! asks its model through the same HTTP provider.
//!
//! The interface is synchronous ([`Provider::chat`]): callers are episode loops, and
//! the HTTP provider drives its own small tokio runtime.

pub mod cache;
#[cfg(feature = "local")]
pub mod local;
pub mod openai;

use serde::{Deserialize, Serialize};

pub use cache::CachedProvider;
pub use openai::{OpenAiConfig, OpenAiProvider};

/// One chat message: text, and images for models that see.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
    /// Images after the text (OpenAI's `image_url` content parts). Absent from the
    /// cache key when empty, so text-only entries keep their keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
}

/// An image attached to a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Image {
    /// Its media type, e.g. `image/png`.
    pub media_type: String,
    /// The file's bytes, base64 (standard alphabet, padded).
    pub base64: String,
}

impl Image {
    /// A PNG image from its file bytes.
    pub fn png(bytes: &[u8]) -> Self {
        use base64::Engine as _;
        Self {
            media_type: "image/png".into(),
            base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// The image as a `data:` URL.
    pub fn data_url(&self) -> String {
        format!("data:{};base64,{}", self.media_type, self.base64)
    }
}

impl Message {
    fn text(role: &str, text: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: text.into(),
            images: Vec::new(),
        }
    }
    /// A system message.
    pub fn system(text: impl Into<String>) -> Self {
        Self::text("system", text)
    }
    /// A user message.
    pub fn user(text: impl Into<String>) -> Self {
        Self::text("user", text)
    }
    /// A user message with images after its text.
    pub fn user_with_images(text: impl Into<String>, images: Vec<Image>) -> Self {
        Self {
            images,
            ..Self::text("user", text)
        }
    }
    /// An assistant message.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::text("assistant", text)
    }
}

/// A chat request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation.
    pub messages: Vec<Message>,
    /// Sampling temperature.
    pub temperature: f64,
    /// Most tokens to generate.
    pub max_tokens: u32,
    /// Sample index (for best-of-N: different samples of the same prompt are cached
    /// apart).
    pub sample: u32,
    /// A GBNF grammar the reply must follow (root rule `root`). The local model
    /// enforces it while decoding; HTTP providers do not send it. Absent from the
    /// cache key when unset, so older cache entries still match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grammar: Option<String>,
    /// Penalise a reply that repeats itself (the local model: llama.cpp's DRY
    /// sampler; HTTP providers do not send it). Absent from the cache key when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry: Option<Dry>,
}

/// llama.cpp's DRY ("don't repeat yourself") sampler: a token that would extend a
/// sequence already in the reply beyond `allowed_length` tokens loses
/// `multiplier · base^(length − allowed_length)` of its logit. No sequence breakers:
/// in code, a whole repeated line is what it must catch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Dry {
    /// Penalty scale (llama.cpp's suggestion: 0.8).
    pub multiplier: f32,
    /// Growth per token beyond the allowed length (1.75).
    pub base: f32,
    /// Repeats up to this many tokens are free.
    pub allowed_length: i32,
}

impl Dry {
    /// For programs: a repeated call or two is normal code (`pick(..); place_on(..);`
    /// for each block), a repeated run of more than 16 tokens (about two statements)
    /// is penalised.
    pub const PROGRAMS: Dry = Dry {
        multiplier: 0.8,
        base: 1.75,
        allowed_length: 16,
    };
}

/// A chat response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The assistant's text.
    pub content: String,
    /// Prompt tokens (as the provider reported them, else estimated).
    pub tokens_in: u64,
    /// Completion tokens.
    pub tokens_out: u64,
    /// The model that answered.
    pub model: String,
    /// Whether it came from the cache.
    #[serde(default)]
    pub cached: bool,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// Nothing answered at the endpoint (connection refused, DNS, timeout).
    #[error("cannot reach {url}: {message}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// The key was refused.
    #[error("{url}: HTTP {status}: the API key was refused ({hint})")]
    Auth {
        /// The URL.
        url: String,
        /// 401 or 403.
        status: u16,
        /// Where the key comes from, e.g. "set CAP_LLM_API_KEY or --api-key".
        hint: String,
    },
    /// Another HTTP error, after retries where they apply.
    #[error("{url}: HTTP {status}: {body}")]
    Http {
        /// The URL.
        url: String,
        /// Status code.
        status: u16,
        /// Start of the body.
        body: String,
    },
    /// The reply is not the chat-completions shape.
    #[error("{url}: unusable reply: {message}")]
    BadResponse {
        /// The URL.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// `--replay-only` and the request is not in the cache.
    #[error("replay-only: request {key} is not in the cache {dir}")]
    CacheMiss {
        /// Request hash.
        key: String,
        /// Cache directory.
        dir: String,
    },
    /// The local model file is missing, corrupt or cannot be loaded.
    #[error("model {path}: {message}")]
    Model {
        /// The file.
        path: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The local engine failed while generating.
    #[error("local model: {message}")]
    Generation {
        /// What failed.
        message: String,
    },
    /// The provider cannot take this request (images sent to a text-only model).
    #[error("{provider}: {message}")]
    Unsupported {
        /// The provider.
        provider: String,
        /// What it cannot do.
        message: String,
    },
    /// Reading or writing the cache failed.
    #[error("cache {path}: {message}")]
    Cache {
        /// File.
        path: String,
        /// Why.
        message: String,
    },
}

/// Something that answers chat requests.
pub trait Provider: Send + Sync {
    /// A stable description of the provider and model (part of the cache key).
    fn id(&self) -> String;
    /// Answer `req`.
    fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError>;
}

/// A rough token count for providers that report none: ~4 characters a token.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}
