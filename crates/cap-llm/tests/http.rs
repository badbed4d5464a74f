//! The OpenAI-compatible provider and the cache against a real local HTTP server.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::time::Duration;

use cap_llm::{
    CachedProvider, ChatRequest, LlmError, Message, OpenAiConfig, OpenAiProvider, Provider,
};

fn serve(replies: Vec<(u16, String)>) -> (String, std::thread::JoinHandle<usize>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", server.server_addr().to_ip().unwrap());
    let h = std::thread::spawn(move || {
        let mut n = 0;
        for (status, body) in replies {
            let Ok(Some(mut req)) = server.recv_timeout(Duration::from_secs(20)) else {
                break;
            };
            let mut text = String::new();
            req.as_reader().read_to_string(&mut text).unwrap();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["model"], "m");
            assert_eq!(v["messages"][1]["content"], "write a program");
            n += 1;
            req.respond(tiny_http::Response::from_string(body).with_status_code(status))
                .unwrap();
        }
        n
    });
    (url, h)
}

fn ok_body(text: &str) -> String {
    serde_json::json!({"model": "m", "choices": [{"message": {"content": text}}], "usage": {"prompt_tokens": 12, "completion_tokens": 3}}).to_string()
}

fn req() -> ChatRequest {
    ChatRequest {
        messages: vec![
            Message::system("you write programs"),
            Message::user("write a program"),
        ],
        temperature: 0.0,
        max_tokens: 64,
        sample: 0,
        grammar: None,
        dry: None,
    }
}

fn provider(url: &str) -> OpenAiProvider {
    let mut c = OpenAiConfig::new(url, "m");
    c.api_key = Some("k".into());
    c.backoff = Duration::from_millis(20);
    c.timeout = Duration::from_secs(5);
    OpenAiProvider::new(c).unwrap()
}

#[test]
fn answers_with_token_counts_after_retrying_overload() {
    let (url, h) = serve(vec![
        (503, "busy".into()),
        (429, "slow".into()),
        (200, ok_body("home();")),
    ]);
    let r = provider(&url).chat(&req()).unwrap();
    assert_eq!(r.content, "home();");
    assert_eq!((r.tokens_in, r.tokens_out), (12, 3));
    assert!(!r.cached);
    assert_eq!(h.join().unwrap(), 3);
}

#[test]
fn bad_keys_bad_replies_and_dead_endpoints_are_typed_errors() {
    let (url, h) = serve(vec![
        (401, "{}".into()),
        (200, "not json".into()),
        (400, "bad request".into()),
    ]);
    let p = provider(&url);
    assert!(matches!(
        p.chat(&req()),
        Err(LlmError::Auth { status: 401, .. })
    ));
    assert!(matches!(p.chat(&req()), Err(LlmError::BadResponse { .. })));
    assert!(matches!(
        p.chat(&req()),
        Err(LlmError::Http { status: 400, .. })
    ));
    h.join().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = OpenAiConfig::new(&format!("http://127.0.0.1:{port}/v1"), "m");
    c.retries = 1;
    c.backoff = Duration::from_millis(10);
    let e = OpenAiProvider::new(c).unwrap().chat(&req()).unwrap_err();
    assert!(matches!(e, LlmError::Unreachable { .. }), "{e}");
    assert!(e.to_string().contains(&port.to_string()));
}

#[test]
fn the_cache_replays_bit_identically_and_replay_only_fails_fast() {
    let dir = std::env::temp_dir().join(format!("cap-llm-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (url, h) = serve(vec![(200, ok_body("pick(\"red_block\");"))]);
    let cached = CachedProvider::new(
        Some(Box::new(provider(&url))),
        "test".into(),
        dir.clone(),
        false,
    );
    let first = cached.chat(&req()).unwrap();
    let second = cached.chat(&req()).unwrap();
    assert_eq!(
        h.join().unwrap(),
        1,
        "the second answer came from the cache"
    );
    assert!(second.cached);
    assert_eq!(first.content, second.content);
    // Offline replay of the same request; a different request misses.
    let replay = CachedProvider::new(None, "test".into(), dir.clone(), true);
    assert_eq!(replay.chat(&req()).unwrap().content, first.content);
    let mut other = req();
    other.sample = 1;
    assert!(matches!(
        replay.chat(&other),
        Err(LlmError::CacheMiss { .. })
    ));
    std::fs::remove_dir_all(dir).ok();
}
