//! The embedded local model: a GGUF file run in-process by llama.cpp (crate
//! `llama-cpp-2`), on the CPU, with no server and no key.
//!
//! * The chat template is the model's own (from the GGUF metadata).
//! * Decoding can be constrained by a GBNF grammar ([`ChatRequest::grammar`]): the
//!   sampler first draws from the unconstrained distribution and only filters the whole
//!   vocabulary when the draw breaks the grammar (llama.cpp's own fast path), so the
//!   constraint costs little when the model already agrees with it.
//! * Tokens stream to an optional callback ([`LocalProvider::with_progress`]).
//! * Model files are checked by sha256 once and the result is remembered next to the
//!   file (`FILE.verified`, keyed by size and modification time), so a corrupt or
//!   truncated download is caught without rehashing 500 MB on every run.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::LlamaToken;

use crate::{ChatRequest, ChatResponse, LlmError, Provider};

mod models;
mod prefix;

use models::model_err;
pub use models::{
    resolve_model, verify_model, KnownModel, KNOWN_MODELS, QWEN_CODER_05B, QWEN_CODER_15B,
    SMOLLM2_135M,
};

/// Settings of the local engine.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// The GGUF file.
    pub model: PathBuf,
    /// What the file must be, when it is one of [`KNOWN_MODELS`] (checked by sha256).
    pub known: Option<KnownModel>,
    /// CPU threads (default: all cores).
    pub threads: u32,
    /// Context window in tokens (prompt + answer).
    pub context: u32,
    /// Base seed for sampling (combined with the request's sample index).
    pub seed: u32,
    /// Where to keep the warm prompt state (llama.cpp's state after the system
    /// message, one file per model and prefix); `None`: every process reads its
    /// whole first prompt.
    pub state_dir: Option<PathBuf>,
}

impl LocalConfig {
    /// Defaults for a model file: all cores, a 4096-token window, seed 0.
    pub fn new(model: PathBuf, known: Option<KnownModel>) -> Self {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(2);
        Self {
            model,
            known,
            threads,
            context: 4096,
            seed: 0,
            state_dir: None,
        }
    }
}

/// What the progress callback hears while a reply is generated.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalEvent {
    /// The prompt has been read.
    Prompt {
        /// Prompt tokens.
        tokens: usize,
        /// Seconds it took.
        seconds: f64,
    },
    /// One more token of the reply.
    Token {
        /// Its text (may be empty in the middle of a multi-byte character).
        text: String,
        /// Tokens generated so far.
        count: usize,
        /// Seconds since generation began.
        seconds: f64,
    },
    /// The reply is complete.
    Done(LocalStats),
}

/// Timings of one reply.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LocalStats {
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Of those, tokens already in the KV cache from the previous reply or loaded from
    /// the warm prompt state (not read again).
    pub prompt_reused: usize,
    /// Of the reused tokens, those loaded from a warm prompt state file.
    pub prompt_from_disk: usize,
    /// Whether this reply wrote a warm prompt state file.
    pub prompt_state_saved: bool,
    /// Seconds spent reading the prompt.
    pub prompt_seconds: f64,
    /// Tokens generated.
    pub tokens: usize,
    /// Seconds spent generating them.
    pub seconds: f64,
    /// Draws the grammar rejected (then redrawn over the filtered vocabulary).
    pub grammar_redraws: usize,
}

impl LocalStats {
    /// Prompt tokens read per second (reused ones not counted).
    pub fn prompt_rate(&self) -> f64 {
        rate(self.prompt_tokens - self.prompt_reused, self.prompt_seconds)
    }
    /// Generated tokens per second.
    pub fn rate(&self) -> f64 {
        rate(self.tokens, self.seconds)
    }
}

fn rate(n: usize, s: f64) -> f64 {
    if s > 0.0 {
        n as f64 / s
    } else {
        0.0
    }
}

type Callback = Arc<dyn Fn(&LocalEvent) + Send + Sync>;

/// Where a text leaves a grammar ([`LocalProvider::grammar_accepts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrammarRefusal {
    /// Byte offset of the first refused token.
    pub offset: usize,
    /// What was refused, with the text before it.
    pub message: String,
}

/// A llama.cpp context and the tokens its KV cache holds (sequence 0).
struct Session {
    ctx: LlamaContext<'static>,
    tokens: Vec<LlamaToken>,
}

/// llama.cpp's backend may be initialised once per process.
fn backend() -> Result<&'static LlamaBackend, LlmError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let mut b = LlamaBackend::init().map_err(|e| e.to_string())?;
            // llama.cpp logs every tensor at load; cap reports what matters itself.
            if std::env::var_os("CAP_LLAMA_LOG").is_none() {
                b.void_logs();
            }
            Ok(b)
        })
        .as_ref()
        .map_err(|e| LlmError::Generation {
            message: format!("llama.cpp backend: {e}"),
        })
}

/// The embedded model as a [`Provider`].
pub struct LocalProvider {
    /// Leaked on load: the reusable context below borrows it for the life of the
    /// process (one provider per run).
    model: &'static LlamaModel,
    config: LocalConfig,
    /// The model file's sha256 (keys the warm prompt state).
    sha: String,
    id: String,
    name: String,
    /// The context kept between replies, and the tokens in its KV cache: a prompt
    /// that shares a prefix with the last one (the system prompt and API, across
    /// attempts and repairs) only reads the rest. Locked for a whole reply, so
    /// generations take turns: both cores serve one reply.
    session: Mutex<Option<Session>>,
    progress: Option<Callback>,
    last: Mutex<LocalStats>,
}

impl std::fmt::Debug for LocalProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalProvider")
            .field("id", &self.id)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LocalProvider {
    /// Verify and load the model.
    pub fn load(config: LocalConfig) -> Result<Self, LlmError> {
        let sha = verify_model(&config.model, config.known)?;
        let backend = backend()?;
        let params = LlamaModelParams::default();
        let model = LlamaModel::load_from_file(backend, &config.model, &params)
            .map_err(|e| model_err(&config.model, format!("llama.cpp cannot load it: {e}")))?;
        model
            .chat_template(None)
            .map_err(|e| model_err(&config.model, format!("no usable chat template: {e}")))?;
        let name = match config.known {
            Some(k) => k.name.to_string(),
            None => config
                .model
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "local".into()),
        };
        let model: &'static LlamaModel = Box::leak(Box::new(model));
        Ok(Self {
            id: format!("local {name} sha256:{}", &sha[..16]),
            sha,
            model,
            config,
            name,
            session: Mutex::new(None),
            progress: None,
            last: Mutex::new(LocalStats::default()),
        })
    }

    /// Hear prompt reading, every token and the end of each reply.
    pub fn with_progress(mut self, f: impl Fn(&LocalEvent) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Keep warm prompt states in `dir` instead (`None`: none).
    pub fn with_state_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.config.state_dir = dir;
        self
    }

    /// The model's short name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drop the kept context: the next reply reads its whole prompt (benchmarks).
    pub fn forget_context(&self) {
        if let Ok(mut s) = self.session.lock() {
            *s = None;
        }
    }

    /// Timings of the last reply.
    pub fn last_stats(&self) -> LocalStats {
        self.last.lock().map(|s| *s).unwrap_or_default()
    }

    /// Tokenise text as the model does (for prompt budgeting).
    pub fn count_tokens(&self, text: &str) -> usize {
        self.model
            .vocab()
            .tokenize(text.as_bytes(), false, true)
            .len()
    }

    /// Whether `text` can be written under `grammar` (GBNF, root `root`) with this
    /// model's tokens: tokenises it and feeds the tokens through llama.cpp's grammar
    /// sampler. On refusal, returns the byte offset of the first refused token.
    pub fn grammar_accepts(&self, grammar: &str, text: &str) -> Result<(), GrammarRefusal> {
        let mut g =
            LlamaSampler::grammar(self.model, grammar, "root").map_err(|e| GrammarRefusal {
                offset: 0,
                message: format!("the grammar does not parse: {e}"),
            })?;
        let vocab = self.model.vocab();
        let mut offset = 0;
        for t in vocab.tokenize(text.as_bytes(), false, false) {
            let mut one = LlamaTokenDataArray::new(vec![LlamaTokenData::new(t, 1.0, 0.0)], false);
            one.apply_sampler(&mut g);
            let piece = vocab.token_to_piece(t, false, None);
            if !one.data.first().is_some_and(|d| d.logit().is_finite()) {
                return Err(GrammarRefusal {
                    offset,
                    message: format!(
                        "refused {:?} after {:?}",
                        String::from_utf8_lossy(&piece),
                        &text[..offset.min(text.len())]
                    ),
                });
            }
            g.accept(t);
            offset += piece.len();
        }
        Ok(())
    }

    fn emit(&self, ev: LocalEvent) {
        if let Some(p) = &self.progress {
            p(&ev);
        }
    }

    fn generate(
        &self,
        session: &mut Option<Session>,
        req: &ChatRequest,
    ) -> Result<(String, LocalStats), LlmError> {
        let gen_err = |message: String| LlmError::Generation { message };
        let template = self
            .model
            .chat_template(None)
            .map_err(|e| gen_err(format!("chat template: {e}")))?;
        let messages = req
            .messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.clone(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| gen_err(format!("a message cannot be passed to llama.cpp: {e}")))?;
        let prompt = self
            .model
            .apply_chat_template(&template, &messages, true)
            .map_err(|e| gen_err(format!("chat template: {e}")))?;
        let vocab = self.model.vocab();
        let tokens = vocab.tokenize(prompt.as_bytes(), vocab.should_add_bos(), true);
        let budget = req.max_tokens as usize;
        let window = self.config.context as usize;
        if tokens.len() + 1 >= window {
            return Err(gen_err(format!(
                "the prompt is {} tokens, more than the {window}-token context window",
                tokens.len()
            )));
        }
        let max_new = budget.min(window - tokens.len() - 1);
        // The prompt is always read in the same pieces: up to the end of the system
        // message (shared by every prompt on the scene's arm), up to its last token,
        // and that token alone. A warm prompt state is kept at the first two points
        // (the second serves the same request again, as a second run of the same task
        // sends it). Reading from a loaded state then computes exactly what reading
        // without one does, so a reply does not depend on which files exist.
        let last = tokens.len() - 1;
        let mut splits: Vec<usize> = self
            .shared_prefix(&template, &messages, &tokens)
            .into_iter()
            .chain(std::iter::once(last))
            .filter(|k| *k > 0)
            .collect();
        splits.dedup();
        let boundaries: Vec<(usize, PathBuf)> = match &self.config.state_dir {
            Some(dir) => splits
                .iter()
                .filter(|k| **k >= prefix::MIN_PREFIX_TOKENS)
                .map(|&k| (k, prefix::state_path(dir, &self.sha, &tokens[..k])))
                .collect(),
            None => Vec::new(),
        };
        let n_batch = 512usize;
        if session.is_none() {
            let threads = self.config.threads.max(1) as i32;
            let params = LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(self.config.context))
                .with_n_batch(n_batch as u32)
                .with_n_threads(threads)
                .with_n_threads_batch(threads);
            let ctx = self
                .model
                .new_context(backend()?, params)
                .map_err(|e| gen_err(format!("llama.cpp context: {e}")))?;
            *session = Some(Session {
                ctx,
                tokens: Vec::new(),
            });
        }
        let Some(Session {
            ctx,
            tokens: in_cache,
        }) = session.as_mut()
        else {
            return Err(gen_err("no context".into()));
        };
        // A fresh context starts from the longest warm prompt state saved.
        let mut from_disk = 0;
        let fresh = in_cache.is_empty();
        if fresh {
            for (k, path) in boundaries.iter().rev() {
                if prefix::load(ctx, path, &tokens[..*k]) {
                    in_cache.extend_from_slice(&tokens[..*k]);
                    from_disk = *k;
                    break;
                }
            }
        }
        // Keep the shared prefix (at least one token is read, for its logits).
        let mut keep = in_cache
            .iter()
            .zip(&tokens)
            .take_while(|(a, b)| a == b)
            .count()
            .min(tokens.len() - 1);
        let dropped = ctx
            .clear_kv_cache_seq(Some(0), Some(keep as u32), None)
            .unwrap_or(false);
        if !dropped {
            ctx.clear_kv_cache();
            keep = 0;
        }
        in_cache.truncate(keep);

        // Read the rest of the prompt in batches; only the last token's logits matter.
        // At each boundary without a state file beyond what is cached, save one; the
        // whole prompt's only on a process's first reply (the one a second run
        // repeats; later prompts of a run are its repairs).
        let save_at: Vec<&(usize, PathBuf)> = boundaries
            .iter()
            .filter(|(k, path)| *k > keep && !path.exists())
            .filter(|(k, _)| *k < last || fresh)
            .collect();
        let mut ranges = Vec::new();
        let mut from = keep;
        for &k in splits.iter().filter(|k| **k > keep) {
            ranges.push((from, k));
            from = k;
        }
        ranges.push((from, tokens.len()));
        let t0 = Instant::now();
        let mut batch = LlamaBatch::new(n_batch, 1);
        let mut saved = false;
        for (from, to) in ranges {
            for (c, chunk) in tokens[from..to].chunks(n_batch).enumerate() {
                batch.clear();
                for (i, &t) in chunk.iter().enumerate() {
                    let pos = from + c * n_batch + i;
                    batch
                        .add(t, pos as i32, &[0], pos == tokens.len() - 1)
                        .map_err(|e| gen_err(format!("batch: {e}")))?;
                }
                if let Err(e) = ctx.decode(&mut batch) {
                    in_cache.clear();
                    ctx.clear_kv_cache();
                    return Err(gen_err(format!("reading the prompt: {e}")));
                }
                in_cache.extend_from_slice(chunk);
            }
            if let Some((k, path)) = save_at.iter().find(|(k, _)| *k == to) {
                // A state that cannot be written only costs the next run its time.
                saved |= prefix::save(ctx, path, &tokens[..*k]).is_ok();
            }
        }
        let mut stats = LocalStats {
            prompt_tokens: tokens.len(),
            prompt_reused: keep,
            prompt_from_disk: from_disk.min(keep),
            prompt_state_saved: saved,
            prompt_seconds: t0.elapsed().as_secs_f64(),
            ..LocalStats::default()
        };
        self.emit(LocalEvent::Prompt {
            tokens: stats.prompt_tokens,
            seconds: stats.prompt_seconds,
        });

        let seed = self
            .config
            .seed
            .wrapping_mul(1_000_003)
            .wrapping_add(req.sample);
        let mut chain = Vec::new();
        if let Some(d) = req.dry {
            let no_breakers: [&str; 0] = [];
            chain.push(LlamaSampler::dry(
                self.model,
                d.multiplier,
                d.base,
                d.allowed_length,
                // The whole reply (a negative value would disable it in this llama.cpp).
                req.max_tokens.min(i32::MAX as u32) as i32,
                no_breakers,
            ));
        }
        if req.temperature <= 0.0 {
            chain.push(LlamaSampler::greedy());
        } else {
            chain.extend([
                LlamaSampler::top_k(40),
                LlamaSampler::top_p(0.95, 1),
                LlamaSampler::temp(req.temperature as f32),
                LlamaSampler::dist(seed),
            ]);
        }
        let mut sampler = LlamaSampler::chain_simple(chain);
        let mut grammar = match &req.grammar {
            Some(g) => Some(
                LlamaSampler::grammar(self.model, g, "root")
                    .map_err(|e| gen_err(format!("the decoding grammar does not parse: {e}")))?,
            ),
            None => None,
        };

        let t1 = Instant::now();
        let mut out: Vec<u8> = Vec::new();
        let mut logits_at = batch.n_tokens() - 1;
        let mut decoder = Utf8Stream::default();
        for count in 1..=max_new {
            let token = self.sample(ctx, logits_at, &mut sampler, grammar.as_mut(), &mut stats);
            if vocab.is_eog(token) {
                break;
            }
            sampler.accept(token);
            if let Some(g) = grammar.as_mut() {
                g.accept(token);
            }
            let piece = vocab.token_to_piece(token, false, None);
            out.extend_from_slice(&piece);
            stats.tokens = count;
            self.emit(LocalEvent::Token {
                text: decoder.push(&piece),
                count,
                seconds: t1.elapsed().as_secs_f64(),
            });
            // Without a grammar, stop at the end of the first fenced block: the rest
            // would be commentary nobody reads.
            if grammar.is_none() && closes_first_fence(&out) {
                break;
            }
            batch.clear();
            let pos = (tokens.len() + count - 1) as i32;
            batch
                .add(token, pos, &[0], true)
                .map_err(|e| gen_err(format!("batch: {e}")))?;
            if let Err(e) = ctx.decode(&mut batch) {
                in_cache.clear();
                ctx.clear_kv_cache();
                return Err(gen_err(format!("generating: {e}")));
            }
            in_cache.push(token);
            logits_at = 0;
        }
        stats.seconds = t1.elapsed().as_secs_f64();
        self.emit(LocalEvent::Done(stats));
        Ok((String::from_utf8_lossy(&out).into_owned(), stats))
    }

    /// How many of `tokens` are the system message as the template writes it (the
    /// prefix every prompt of a run, and of the next run on the same scene, shares),
    /// when the prompt starts with one and it is long enough to be worth a state file.
    fn shared_prefix(
        &self,
        template: &llama_cpp_2::model::LlamaChatTemplate,
        messages: &[LlamaChatMessage],
        tokens: &[LlamaToken],
    ) -> Option<usize> {
        let first = messages.first()?;
        if messages.len() < 2 {
            return None;
        }
        let system = self
            .model
            .apply_chat_template(template, std::slice::from_ref(first), false)
            .ok()?;
        let vocab = self.model.vocab();
        let head = vocab.tokenize(system.as_bytes(), vocab.should_add_bos(), true);
        let k = head.len();
        (k < tokens.len().saturating_sub(1) && tokens.starts_with(&head)).then_some(k)
    }

    /// Draw the next token. With a grammar: draw freely, and only if the grammar
    /// rejects the draw, filter the whole vocabulary through it and draw again.
    fn sample(
        &self,
        ctx: &LlamaContext<'_>,
        at: i32,
        sampler: &mut LlamaSampler,
        grammar: Option<&mut LlamaSampler>,
        stats: &mut LocalStats,
    ) -> LlamaToken {
        let mut cands = ctx.token_data_array_ith(at);
        let Some(grammar) = grammar else {
            cands.apply_sampler(sampler);
            return cands
                .selected_token()
                .unwrap_or_else(|| self.model.vocab().eos());
        };
        let mut free = cands.clone();
        free.apply_sampler(sampler);
        if let Some(t) = free.selected_token() {
            let mut one = LlamaTokenDataArray::new(vec![LlamaTokenData::new(t, 1.0, 0.0)], false);
            one.apply_sampler(grammar);
            if one.data.first().is_some_and(|d| d.logit().is_finite()) {
                return t;
            }
        }
        stats.grammar_redraws += 1;
        cands.apply_sampler(grammar);
        cands.apply_sampler(sampler);
        cands
            .selected_token()
            .unwrap_or_else(|| self.model.vocab().eos())
    }
}

/// Whether `out` holds an opening ``` fence and a later closing one.
fn closes_first_fence(out: &[u8]) -> bool {
    let text = String::from_utf8_lossy(out);
    match text.find("```") {
        Some(open) => text[open + 3..].contains("\n```"),
        None => false,
    }
}

/// Turns a stream of byte pieces into text, holding back incomplete UTF-8.
#[derive(Debug, Default)]
struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        match std::str::from_utf8(&self.pending) {
            Ok(s) => {
                let s = s.to_string();
                self.pending.clear();
                s
            }
            Err(e) if e.error_len().is_none() => {
                // An incomplete character at the end: emit what is complete.
                let valid = e.valid_up_to();
                let s = String::from_utf8_lossy(&self.pending[..valid]).into_owned();
                self.pending.drain(..valid);
                s
            }
            Err(_) => {
                let s = String::from_utf8_lossy(&self.pending).into_owned();
                self.pending.clear();
                s
            }
        }
    }
}

impl Provider for LocalProvider {
    fn id(&self) -> String {
        self.id.clone()
    }

    fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        if req.messages.iter().any(|m| !m.images.is_empty()) {
            return Err(LlmError::Unsupported {
                provider: self.id.clone(),
                message: "the embedded model reads no images; use a vision model behind an OpenAI-compatible endpoint".into(),
            });
        }
        let mut session = self.session.lock().map_err(|_| LlmError::Generation {
            message: "an earlier generation panicked".into(),
        })?;
        let (content, stats) = self.generate(&mut session, req)?;
        if let Ok(mut last) = self.last.lock() {
            *last = stats;
        }
        Ok(ChatResponse {
            content,
            tokens_in: stats.prompt_tokens as u64,
            tokens_out: stats.tokens as u64,
            model: self.name.clone(),
            cached: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn utf8_stream_holds_back_partial_characters() {
        let mut s = Utf8Stream::default();
        let bytes = "é".as_bytes();
        assert_eq!(s.push(&bytes[..1]), "");
        assert_eq!(s.push(&bytes[1..]), "é");
        assert_eq!(s.push(b"ab"), "ab");
    }

    #[test]
    fn first_fence_closes() {
        assert!(!closes_first_fence(b"```rhai\npick(\"a\");\n"));
        assert!(closes_first_fence(b"```rhai\npick(\"a\");\n```"));
        assert!(!closes_first_fence(b"no fence"));
    }

    #[test]
    fn missing_and_foreign_files_are_typed_errors() {
        let dir = std::env::temp_dir().join(format!("cap-llm-verify-{}", std::process::id()));
        fs::create_dir_all(&dir).ok();
        let missing = dir.join("nope.gguf");
        let e = verify_model(&missing, Some(SMOLLM2_135M)).unwrap_err();
        assert!(matches!(e, LlmError::Model { .. }), "{e}");
        assert!(e.to_string().contains("fetch-llm.sh"), "{e}");

        let not_gguf = dir.join("text.gguf");
        fs::write(&not_gguf, b"hello world").ok();
        let e = verify_model(&not_gguf, None).unwrap_err();
        assert!(e.to_string().contains("not a GGUF"), "{e}");

        let truncated = dir.join("short.gguf");
        fs::write(&truncated, b"GGUF\x03\x00\x00\x00").ok();
        let e = verify_model(&truncated, Some(SMOLLM2_135M)).unwrap_err();
        assert!(e.to_string().contains("interrupted download"), "{e}");
        // An unknown GGUF is accepted by the check (llama.cpp judges the rest) and
        // its hash remembered.
        let sha = verify_model(&truncated, None).unwrap_or_default();
        assert_eq!(sha.len(), 64);
        assert!(fs::read_to_string(dir.join("short.gguf.verified"))
            .unwrap_or_default()
            .ends_with(&format!("{sha}\n")));
        fs::remove_dir_all(&dir).ok();
    }
}
