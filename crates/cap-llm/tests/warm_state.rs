//! The warm prompt state with the small test model: a second process (here, a fresh
//! context) that sends the same system message reads only what follows it, the same
//! request again reads one token, and neither changes a greedy reply; a corrupt state
//! file is replaced, not trusted.
//!
//! Needs the test model: `bash scripts/fetch-llm.sh test` (setup.sh fetches it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use cap_llm::local::{resolve_model, LocalConfig, LocalProvider, LocalStats};
use cap_llm::{ChatRequest, Message, Provider};

fn model(state_dir: Option<PathBuf>) -> LocalProvider {
    let (path, known) = resolve_model(Some("smollm2-135m")).unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = LocalConfig::new(path, known);
    cfg.context = 2048;
    LocalProvider::load(cfg)
        .unwrap_or_else(|e| panic!("{e} (fetch it with `bash scripts/fetch-llm.sh test`)"))
        .with_state_dir(state_dir)
}

fn request(instruction: &str) -> ChatRequest {
    // A system message well over the 64-token minimum, as cap's (rules + API) is.
    let system = "You write robot programs in rhai. ".repeat(40);
    ChatRequest {
        messages: vec![
            Message::system(system),
            Message::user(format!("Instruction: {instruction}")),
        ],
        temperature: 0.0,
        max_tokens: 24,
        sample: 0,
        grammar: None,
        dry: None,
    }
}

fn ask(p: &LocalProvider, req: &ChatRequest) -> (String, LocalStats) {
    p.forget_context();
    let r = p.chat(req).unwrap();
    (r.content, p.last_stats())
}

fn states(dir: &PathBuf) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|x| x == "state"));
    v.sort();
    v
}

#[test]
fn a_second_process_reads_only_what_follows_the_saved_prefix() {
    let dir = std::env::temp_dir().join(format!("cap-warm-state-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let cold = model(None);
    let warm = model(Some(dir.clone()));
    let a = request("put the red block on the blue plate");
    let b = request("stack the blocks");

    // Without a state directory nothing is saved or loaded.
    let (reference_a, st) = ask(&cold, &a);
    assert_eq!((st.prompt_reused, st.prompt_state_saved), (0, false));
    assert_eq!(std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0), 0);
    let (reference_b, _) = ask(&cold, &b);

    // First run: nothing on disk; the system message's and the whole prompt's states
    // are saved.
    let (reply, st) = ask(&warm, &a);
    assert_eq!(reply, reference_a);
    assert_eq!(st.prompt_from_disk, 0);
    assert!(st.prompt_state_saved);
    assert_eq!(states(&dir).len(), 2, "{:?}", states(&dir));

    // The same request from a fresh context: all but the last token from disk.
    let (reply, st) = ask(&warm, &a);
    assert_eq!(
        reply, reference_a,
        "the loaded state must not change the reply"
    );
    assert_eq!(st.prompt_from_disk, st.prompt_tokens - 1);

    // Another instruction after the same system message: the system part from disk.
    let (reply, st) = ask(&warm, &b);
    assert_eq!(reply, reference_b);
    assert!(
        st.prompt_from_disk > 64 && st.prompt_from_disk < st.prompt_tokens - 5,
        "{st:?}"
    );

    // A corrupt file is not trusted: removed, the prompt read, a good one saved again.
    for p in states(&dir) {
        std::fs::write(&p, b"not a llama.cpp state").unwrap();
    }
    let (reply, st) = ask(&warm, &a);
    assert_eq!(reply, reference_a);
    assert_eq!(st.prompt_from_disk, 0);
    assert!(st.prompt_state_saved);
    let (_, st) = ask(&warm, &a);
    assert_eq!(st.prompt_from_disk, st.prompt_tokens - 1);
    std::fs::remove_dir_all(&dir).ok();
}
