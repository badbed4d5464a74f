//! The language-model flags `cap run` and `cap eval` share, and the provider they
//! choose: an OpenAI-compatible endpoint (`--base-url` with `--model`), answers from
//! the cache alone (`--replay-only`), or the embedded model; every reply cached by the
//! sha256 of its request.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use cap_llm::local::{resolve_model, LocalConfig, LocalEvent, LocalProvider};
use cap_llm::{CachedProvider, OpenAiConfig, OpenAiProvider, Provider};

use crate::BadInput;

/// Which language model writes programs, and how.
#[derive(clap::Args, Debug, Clone)]
pub struct LlmArgs {
    /// OpenAI-compatible base URL, up to /v1.
    #[arg(long, env = "CAP_LLM_URL")]
    pub base_url: Option<String>,
    /// Model id.
    #[arg(long, env = "CAP_LLM_MODEL")]
    pub model: Option<String>,
    /// Response cache directory (default: the data directory's llm-cache).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Answer only from the cache; fail fast on a miss.
    #[arg(long, conflicts_with = "no_cache")]
    pub replay_only: bool,
    /// Neither read nor write the response cache.
    #[arg(long)]
    pub no_cache: bool,
    /// The name replies are cached under (default: the endpoint's base URL), so that
    /// one model name served by two endpoints does not share answers; give the same
    /// name to replay a cache recorded from an endpoint that is gone.
    #[arg(long, env = "CAP_LLM_CACHE_NAMESPACE")]
    pub cache_namespace: Option<String>,
    /// The embedded model used when no endpoint is given: `qwen2.5-coder-1.5b` (the
    /// default), `qwen2.5-coder-0.5b`, `smollm2-135m`, or a path to a GGUF file.
    #[arg(long, env = "CAP_LLM_LOCAL")]
    pub llm_model: Option<String>,
    /// CPU threads for the embedded model (default: all cores).
    #[arg(long)]
    pub llm_threads: Option<u32>,
    /// Context window of the embedded model, tokens.
    #[arg(long, default_value_t = 4096)]
    pub llm_context: u32,
    /// Let the embedded model write anything (no grammar limiting programs to the API
    /// and the scene's object names).
    #[arg(long)]
    pub no_constrain: bool,
    /// Do not penalise repetition in repairs (llama.cpp's DRY sampler, on by default
    /// with the embedded model).
    #[arg(long)]
    pub no_dry: bool,
    /// Least sampling temperature for repairs (default 0: greedy; a repeated program is
    /// asked for again at a higher temperature).
    #[arg(long)]
    pub repair_temperature: Option<f64>,
    /// HTTP timeout per request, seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout_s: u64,
}

/// The provider [`LlmArgs::provider`] chose.
pub struct Chosen {
    /// It, behind the response cache.
    pub provider: CachedProvider,
    /// Whether it is the embedded model (which the grammar constrains).
    pub local: bool,
    /// The response cache.
    pub cache_dir: PathBuf,
}

impl LlmArgs {
    /// The provider these flags ask for. With a progress bar, loading the embedded
    /// model and its tokens show there.
    pub fn provider(&self, pb: Option<&indicatif::ProgressBar>) -> Result<Chosen> {
        let (inner, id, local): (Option<Box<dyn Provider>>, String, bool) = match (
            &self.base_url,
            &self.model,
        ) {
            (Some(url), Some(model)) => {
                let mut c = OpenAiConfig::new(url, model);
                c.timeout = Duration::from_secs(self.timeout_s.max(1));
                let ns = self.cache_namespace.as_deref().unwrap_or(url);
                (
                    Some(Box::new(OpenAiProvider::new(c)?)),
                    format!("model {model} at {ns}"),
                    false,
                )
            }
            (None, Some(model)) if self.replay_only => {
                let Some(ns) = &self.cache_namespace else {
                    return Err(BadInput(
                            "--replay-only with --model needs the --base-url the replies were recorded from, or the --cache-namespace they were recorded under".into(),
                        )
                        .into());
                };
                (None, format!("model {model} at {ns}"), false)
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(BadInput(
                    "--base-url and --model go together (or CAP_LLM_URL and CAP_LLM_MODEL)".into(),
                )
                .into())
            }
            (None, None) => {
                if let Some(pb) = pb {
                    pb.set_message("loading the embedded model");
                }
                let p = load_local(
                    self.llm_model.as_deref(),
                    self.llm_threads,
                    self.llm_context,
                    pb,
                )?;
                let id = p.id();
                (Some(Box::new(p)), id, true)
            }
        };
        // The cache key names the model and the endpoint (or the namespace given): one
        // model name served by two endpoints does not share answers.
        let cache_dir = self
            .cache
            .clone()
            .unwrap_or_else(|| cap_core::paths::data_dir().join("llm-cache"));
        Ok(Chosen {
            provider: if self.no_cache {
                CachedProvider::uncached(inner, id)
            } else {
                CachedProvider::new(inner, id, cache_dir.clone(), self.replay_only)
            },
            local,
            cache_dir,
        })
    }

    /// Whether generation runs under the grammar (the embedded model, unless
    /// `--no-constrain`).
    pub fn constrain(&self, local: bool) -> bool {
        local && !self.no_constrain
    }

    /// The repetition penalty of repairs: DRY for programs with the embedded model,
    /// unless `--no-dry`.
    pub fn repair_dry(&self, local: bool) -> Option<cap_llm::Dry> {
        (local && !self.no_dry).then_some(cap_llm::Dry::PROGRAMS)
    }

    /// The least temperature of repairs: `--repair-temperature`, else 0 (greedy). A
    /// repair that hands back a program already tried is not run; the model is asked
    /// again at a higher temperature. Measured on the held-out set with the 1.5B model:
    /// 7 of 10 tasks greedy against 5 of 10 at 0.7 (bench/README.md).
    pub fn repair_temperature(&self) -> f64 {
        self.repair_temperature.unwrap_or(0.0).clamp(0.0, 2.0)
    }
}

/// A line above the spinner, or on stderr when there is no terminal to draw it on.
pub fn say(pb: &indicatif::ProgressBar, line: String) {
    if pb.is_hidden() {
        eprintln!("{line}");
    } else {
        pb.println(line);
    }
}

/// Where the embedded model's warm prompt states live: `$DATA/llm-state/`.
pub fn warm_state_dir() -> std::path::PathBuf {
    cap_core::paths::data_dir().join("llm-state")
}

/// Load the embedded model (`spec`: a known name or a GGUF path; none: the default);
/// with a progress bar, it shows loading and streams its tokens there.
pub fn load_local(
    spec: Option<&str>,
    threads: Option<u32>,
    context: u32,
    pb: Option<&indicatif::ProgressBar>,
) -> Result<LocalProvider> {
    let (path, known) = resolve_model(spec).map_err(|e| BadInput(e.to_string()))?;
    let mut cfg = LocalConfig::new(path, known);
    if let Some(t) = threads {
        cfg.threads = t.max(1);
    }
    cfg.context = context.max(256);
    cfg.state_dir = Some(warm_state_dir());
    let p = LocalProvider::load(cfg).map_err(|e| BadInput(e.to_string()))?;
    let Some(pb) = pb else {
        return Ok(p);
    };
    let bar = pb.clone();
    let p = p.with_progress(move |ev| match ev {
        LocalEvent::Prompt { tokens, seconds } => bar.set_message(format!(
            "read the prompt: {tokens} tokens in {seconds:.1} s; writing…"
        )),
        LocalEvent::Token { count, seconds, .. } => bar.set_message(format!(
            "writing: {count} tokens, {:.1} tokens/s",
            *count as f64 / seconds.max(1e-9)
        )),
        LocalEvent::Done(s) => say(
            &bar,
            format!(
                "  model: {} prompt tokens ({} already in the cache{}) read at {:.0}/s in {:.1} s, {} tokens written at {:.1}/s{}",
                s.prompt_tokens,
                s.prompt_reused,
                if s.prompt_from_disk > 0 {
                    format!(", {} from the warm prompt state", s.prompt_from_disk)
                } else if s.prompt_state_saved {
                    ", the system prompt's state saved for the next run".to_string()
                } else {
                    String::new()
                },
                s.prompt_rate(),
                s.prompt_seconds,
                s.tokens,
                s.rate(),
                if s.grammar_redraws > 0 {
                    format!(", {} draws redone under the grammar", s.grammar_redraws)
                } else {
                    String::new()
                }
            ),
        ),
    });
    say(pb, format!("model: {} (embedded, llama.cpp)", p.name()));
    Ok(p)
}
