//! The DRY sampler with the small test model: asked to repeat one statement many
//! times, greedy decoding does; with `Dry::PROGRAMS` no statement repeats more than
//! five times in a row (the bar for a degenerate reply).
//!
//! Needs the test model: `bash scripts/fetch-llm.sh test` (setup.sh fetches it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cap_llm::local::{resolve_model, LocalConfig, LocalProvider};
use cap_llm::{ChatRequest, Dry, Message, Provider};

/// The longest run of one identical non-empty line.
fn longest_run(text: &str) -> usize {
    let (mut best, mut run, mut prev) = (0, 0, "");
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        run = if line == prev { run + 1 } else { 1 };
        prev = line;
        best = best.max(run);
    }
    best
}

#[test]
fn dry_stops_a_reply_from_repeating_one_statement() {
    let (path, known) = resolve_model(Some("smollm2-135m")).unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = LocalConfig::new(path, known);
    cfg.context = 1024;
    let p = LocalProvider::load(cfg)
        .unwrap_or_else(|e| panic!("{e} (fetch it with `bash scripts/fetch-llm.sh test`)"));
    let ask = |dry| {
        p.forget_context();
        p.chat(&ChatRequest {
            messages: vec![
                Message::system("You copy text exactly."),
                Message::user(format!(
                    "Copy this text exactly:\n\n{}",
                    "place_on(\"red_block\", \"blue_plate\");\n".repeat(12)
                )),
            ],
            temperature: 0.0,
            max_tokens: 300,
            sample: 0,
            grammar: None,
            dry,
        })
        .unwrap()
        .content
    };
    let plain = ask(None);
    let with_dry = ask(Some(Dry::PROGRAMS));
    assert!(
        longest_run(&plain) > 5,
        "the model must loop without DRY for this test to mean anything:\n{plain}"
    );
    assert!(
        longest_run(&with_dry) <= 5,
        "with DRY a statement still repeats {} times:\n{with_dry}",
        longest_run(&with_dry)
    );
}

#[test]
fn longest_run_counts_identical_consecutive_lines() {
    assert_eq!(longest_run("a\na\n\nb\na"), 2);
    assert_eq!(longest_run("pick(x);\n  pick(x);\npick(x);"), 3);
    assert_eq!(longest_run(""), 0);
}
