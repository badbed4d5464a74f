//! The remote inspector against a real local HTTP server speaking the OpenAI chat API.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::sync::Arc;
use std::time::Duration;

use cap_core::scene::Scene;
use cap_core::trace::Answer;
use cap_llm::OpenAiConfig;
use cap_sim::prelude::World;
use cap_vision::{Inspector, Observation, RemoteInspector};
use serde_json::Value;

fn world() -> World {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenes/tabletop.toml");
    World::new(Arc::new(Scene::load(path).unwrap()), 0).unwrap()
}

/// A request the test server saw: path, JSON body, Authorization header.
type Seen = (String, Value, Option<String>);

/// Serve `replies` (status, body) in order; return the URL and the requests seen.
fn serve(replies: Vec<(u16, String)>) -> (String, std::thread::JoinHandle<Vec<Seen>>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", server.server_addr().to_ip().unwrap());
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for (status, body) in replies {
            let mut req = server
                .recv_timeout(Duration::from_secs(20))
                .unwrap()
                .unwrap();
            let mut text = String::new();
            req.as_reader().read_to_string(&mut text).unwrap();
            let auth = req
                .headers()
                .iter()
                .find(|h| h.field.equiv("Authorization"))
                .map(|h| h.value.to_string());
            seen.push((
                req.url().to_owned(),
                serde_json::from_str(&text).unwrap(),
                auth,
            ));
            let resp = tiny_http::Response::from_string(body)
                .with_status_code(status)
                .with_header(
                    "Content-Type: application/json"
                        .parse::<tiny_http::Header>()
                        .unwrap(),
                );
            req.respond(resp).unwrap();
        }
        seen
    });
    (url, handle)
}

fn chat(content: &str) -> String {
    serde_json::json!({"choices": [{"message": {"role": "assistant", "content": content}}]})
        .to_string()
}

fn config(url: &str) -> OpenAiConfig {
    let mut c = cap_vision::remote::config(url, "test-vlm");
    c.api_key = Some("sk-test".into());
    c.timeout = Duration::from_secs(10);
    c
}

#[test]
fn sends_the_statement_and_image_and_reads_the_answer() {
    let (url, server) = serve(vec![(200, chat("holds 0.85"))]);
    let w = world();
    let v = RemoteInspector::new(config(&url)).unwrap().inspect(
        &Observation {
            world: Some(&w),
            frames: &[],
        },
        "the red block is on the table",
    );
    assert_eq!(v.answer, Answer::Holds);
    assert!((v.confidence - 0.85).abs() < 1e-9);
    assert_eq!(v.inspector, "remote");
    let seen = server.join().unwrap();
    let (path, body, auth) = &seen[0];
    assert_eq!(path, "/v1/chat/completions");
    assert_eq!(auth.as_deref(), Some("Bearer sk-test"));
    assert_eq!(body["model"], "test-vlm");
    let user = &body["messages"][1]["content"];
    assert!(user[0]["text"]
        .as_str()
        .unwrap()
        .contains("the red block is on the table"));
    let image = user[1]["image_url"]["url"].as_str().unwrap();
    assert!(
        image.starts_with("data:image/png;base64,iVBOR"),
        "a PNG data URL"
    );
}

#[test]
fn retries_server_errors_then_answers() {
    let (url, server) = serve(vec![
        (503, "overloaded".into()),
        (429, "slow down".into()),
        (200, chat("does_not_hold 0.7")),
    ]);
    let w = world();
    let v = RemoteInspector::new(config(&url)).unwrap().inspect(
        &Observation {
            world: Some(&w),
            frames: &[],
        },
        "the red block is on the blue plate",
    );
    assert_eq!(v.answer, Answer::DoesNotHold, "{v:?}");
    assert_eq!(server.join().unwrap().len(), 3);
}

#[test]
fn garbage_bad_keys_and_dead_endpoints_are_cannot_tell_with_a_reason() {
    let (url, server) = serve(vec![
        (200, chat("I think so, probably")),
        (401, "{}".into()),
    ]);
    let w = world();
    let obs = Observation {
        world: Some(&w),
        frames: &[],
    };
    let r = RemoteInspector::new(config(&url)).unwrap();
    let v = r.inspect(&obs, "the red block is visible");
    assert_eq!(v.answer, Answer::CannotTell);
    assert!(v.detail.unwrap().contains("unusable answer"));
    let v = r.inspect(&obs, "the red block is visible");
    assert_eq!(v.answer, Answer::CannotTell);
    let detail = v.detail.unwrap();
    assert!(
        detail.contains("401") && detail.contains("CAP_VISION_API_KEY"),
        "{detail}"
    );
    server.join().unwrap();

    // Nothing listens on this port (bound, then dropped).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let v = RemoteInspector::new(config(&format!("http://127.0.0.1:{port}/v1")))
        .unwrap()
        .inspect(&obs, "the red block is visible");
    assert_eq!(v.answer, Answer::CannotTell);
    assert!(v.detail.unwrap().contains(&port.to_string()));
}
