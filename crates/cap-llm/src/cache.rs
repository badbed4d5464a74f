//! A response cache keyed by the sha256 of the full request (provider id, messages,
//! sampling settings, sample index). A second run of the same task replays from it,
//! bit-identically and offline.

use std::path::PathBuf;

use crate::{ChatRequest, ChatResponse, LlmError, Provider};

/// Wraps a provider (or none, for pure replay) with a cache directory.
pub struct CachedProvider {
    inner: Option<Box<dyn Provider>>,
    id: String,
    dir: PathBuf,
    replay_only: bool,
    bypass: bool,
}

impl CachedProvider {
    /// Cache `inner`'s answers in `dir`. With `replay_only` (or no `inner`), a request
    /// that is not cached is an error and nothing is sent.
    pub fn new(
        inner: Option<Box<dyn Provider>>,
        id: String,
        dir: PathBuf,
        replay_only: bool,
    ) -> Self {
        Self {
            inner,
            id,
            dir,
            replay_only,
            bypass: false,
        }
    }

    /// `inner` with no cache at all (`--no-cache`): nothing is read or written.
    pub fn uncached(inner: Option<Box<dyn Provider>>, id: String) -> Self {
        Self {
            inner,
            id,
            dir: PathBuf::new(),
            replay_only: false,
            bypass: true,
        }
    }

    /// The cache key of a request.
    pub fn key(&self, req: &ChatRequest) -> String {
        let canonical = serde_json::json!({ "provider": self.id, "request": req });
        cap_core::vocabulary::sha256_hex(canonical.to_string().as_bytes())
    }
}

impl Provider for CachedProvider {
    fn id(&self) -> String {
        self.id.clone()
    }

    fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let key = self.key(req);
        if self.bypass {
            return match &self.inner {
                Some(p) => p.chat(req),
                None => Err(LlmError::CacheMiss {
                    key,
                    dir: "(no cache)".into(),
                }),
            };
        }
        let path = self.dir.join(format!("{key}.json"));
        let cache_err = |message: String| LlmError::Cache {
            path: path.display().to_string(),
            message,
        };
        if let Ok(text) = std::fs::read_to_string(&path) {
            let mut r: ChatResponse =
                serde_json::from_str(&text).map_err(|e| cache_err(e.to_string()))?;
            r.cached = true;
            return Ok(r);
        }
        let inner = match (&self.inner, self.replay_only) {
            (Some(p), false) => p,
            _ => {
                return Err(LlmError::CacheMiss {
                    key,
                    dir: self.dir.display().to_string(),
                })
            }
        };
        let r = inner.chat(req)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| cache_err(e.to_string()))?;
        let tmp = path.with_extension("json.part");
        let text = serde_json::to_string_pretty(&r).map_err(|e| cache_err(e.to_string()))?;
        std::fs::write(&tmp, text).map_err(|e| cache_err(e.to_string()))?;
        std::fs::rename(&tmp, &path).map_err(|e| cache_err(e.to_string()))?;
        Ok(r)
    }
}
