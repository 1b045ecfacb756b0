//! End-to-end checks of the mock over real loopback HTTP, one server per test.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;

const KEY: &str = "test-key-5ecret";
const TILL: &str = "2021-09-09T07:08:12.658Z";

struct Answer {
    status: u16,
    body: Value,
}

fn client() -> reqwest::Client {
    // reqwest is built without a default TLS provider; it refuses to build a client
    // until one is installed, even for plain http. Err means one already is.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .build()
        .expect("reqwest client builds once a provider is installed")
}

async fn start(config: MockConfig) -> MockServer {
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    MockServer::start(loopback, config)
        .await
        .expect("mock binds an ephemeral loopback port")
}

fn faulty(faults: Faults) -> MockConfig {
    MockConfig {
        faults,
        ..MockConfig::new(KEY)
    }
}

fn body(ids: &[u64]) -> String {
    json!({ "data": ids, "type": "contact", "blockTill": TILL }).to_string()
}

async fn try_post(
    client: &reqwest::Client,
    server: &MockServer,
    auth: Option<&str>,
    payload: String,
) -> reqwest::Result<Answer> {
    let mut request = client
        .post(format!("{}{BLOCK_PATH}", server.base_url()))
        .header("content-type", "application/json")
        .body(payload);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let body = response.json::<Value>().await?;
    Ok(Answer { status, body })
}

async fn post(client: &reqwest::Client, server: &MockServer, payload: String) -> Answer {
    try_post(client, server, Some(&format!("Bearer {KEY}")), payload)
        .await
        .expect("mock answers")
}

fn error_code(answer: &Answer) -> &str {
    answer.body["error"]["code"].as_str().unwrap_or("<none>")
}

#[tokio::test]
async fn valid_request_is_blocked_and_recorded() {
    let server = start(MockConfig::new(KEY)).await;
    let client = client();
    let answer = post(&client, &server, body(&[827, 828])).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, json!({ "data": true }));

    let stats = server.stats();
    assert_eq!(stats.requests, 1);
    assert_eq!(stats.by_status, BTreeMap::from([(200, 1)]));
    assert_eq!(stats.ids_blocked, 2);
    assert_eq!(stats.unique_ids_blocked, 2);
    assert_eq!(stats.batch_sizes, BTreeMap::from([(2, 1)]));
    assert_eq!(stats.ids, Some(BTreeMap::from([(827, 1), (828, 1)])));
    assert_eq!(stats.block_tills, BTreeMap::from([(TILL.to_owned(), 2)]));
    assert_eq!(stats.per_second, [1]);
    assert_eq!(stats.max_per_second, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn repeated_blocks_are_counted_per_id() {
    let server = start(MockConfig::new(KEY)).await;
    let client = client();
    for ids in [&[1, 2][..], &[2, 3], &[2]] {
        assert_eq!(post(&client, &server, body(ids)).await.status, 200);
    }
    let stats = server.stats();
    assert_eq!(stats.ids_blocked, 5);
    assert_eq!(stats.unique_ids_blocked, 3);
    assert_eq!(stats.ids, Some(BTreeMap::from([(1, 1), (2, 3), (3, 1)])));
    assert_eq!(stats.batch_sizes, BTreeMap::from([(1, 1), (2, 2)]));
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_or_missing_key_is_401_and_blocks_nothing() {
    let server = start(MockConfig::new(KEY)).await;
    let client = client();
    for auth in [
        None,
        Some("Bearer nope"),
        Some(KEY),
        Some("Basic dXNlcjpwYXNz"),
    ] {
        let answer = try_post(&client, &server, auth, body(&[5]))
            .await
            .expect("mock answers");
        assert_eq!(answer.status, 401, "{auth:?}");
        assert_eq!(error_code(&answer), "ERROR_UNAUTHORIZED");
        let message = answer.body["error"]["message"].as_str().unwrap_or("");
        assert!(!message.contains(KEY), "the key leaked: {message}");
    }
    let stats = server.stats();
    assert_eq!(stats.by_status, BTreeMap::from([(401, 4)]));
    assert_eq!(stats.ids_blocked, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn body_errors_are_400_invalid_input_with_a_message() {
    let server = start(MockConfig::new(KEY)).await;
    let client = client();
    let bad_bodies = [
        "{oops".to_owned(),
        "[827]".to_owned(),
        json!({ "data": [], "type": "contact", "blockTill": TILL }).to_string(),
        json!({ "data": [0], "type": "contact", "blockTill": TILL }).to_string(),
        json!({ "data": [-3], "type": "contact", "blockTill": TILL }).to_string(),
        json!({ "data": ["82"], "type": "contact", "blockTill": TILL }).to_string(),
        json!({ "type": "contact", "blockTill": TILL }).to_string(),
        json!({ "data": [1], "type": "visitor", "blockTill": TILL }).to_string(),
        json!({ "data": [1], "blockTill": TILL }).to_string(),
        json!({ "data": [1], "type": "contact" }).to_string(),
        json!({ "data": [1], "type": "contact", "blockTill": "2021-13-45" }).to_string(),
    ];
    for bad in &bad_bodies {
        let answer = post(&client, &server, bad.clone()).await;
        assert_eq!(answer.status, 400, "{bad}");
        assert_eq!(error_code(&answer), "ERROR_INVALID_INPUT", "{bad}");
        let message = answer.body["error"]["message"].as_str().unwrap_or("");
        assert!(!message.is_empty(), "{bad}");
    }
    let stats = server.stats();
    assert_eq!(stats.requests, bad_bodies.len() as u64);
    assert_eq!(stats.ids_blocked, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn poisoned_id_fails_the_whole_batch() {
    let server = start(faulty(Faults {
        poison: vec![13],
        ..Faults::default()
    }))
    .await;
    let client = client();
    let answer = post(&client, &server, body(&[12, 13, 14])).await;
    assert_eq!(answer.status, 400);
    assert_eq!(error_code(&answer), "ERROR_INVALID_INPUT");
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("13")
    );
    assert_eq!(post(&client, &server, body(&[12, 14])).await.status, 200);
    assert_eq!(server.stats().ids, Some(BTreeMap::from([(12, 1), (14, 1)])));
    server.shutdown().await;
}

#[tokio::test]
async fn revoke_after_allows_n_successes_then_401() {
    let server = start(faulty(Faults {
        revoke_after: Some(3),
        ..Faults::default()
    }))
    .await;
    let client = client();
    let mut statuses = Vec::new();
    for id in 1..=6 {
        statuses.push(post(&client, &server, body(&[id])).await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 401, 401, 401]);
    assert_eq!(server.stats().ids_blocked, 3);
    server.shutdown().await;
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let server = start(faulty(Faults {
        rate_limit: Some(1),
        retry_after_secs: 7,
        ..Faults::default()
    }))
    .await;
    // Ten requests at once cannot all land in different one-second windows.
    let answers = post_concurrently(&server, 1..=10).await;
    let mut limited = 0;
    for response in answers {
        if response.status().as_u16() == 429 {
            limited += 1;
            assert_eq!(
                response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()),
                Some("7")
            );
            let error: Value = response.json().await.expect("JSON error body");
            assert_eq!(error["error"]["code"], "ERROR_RATE_LIMIT");
        } else {
            assert_eq!(response.status().as_u16(), 200);
        }
    }
    assert!(limited > 0);
    let stats = server.stats();
    assert_eq!(stats.by_status.get(&429).copied().unwrap_or(0), limited);
    assert_eq!(stats.ids_blocked, 10 - limited);
    server.shutdown().await;
}

#[tokio::test]
async fn fail_rate_one_answers_only_500_and_503() {
    let server = start(faulty(Faults {
        fail_rate: 1.0,
        seed: Some(11),
        ..Faults::default()
    }))
    .await;
    let client = client();
    let mut seen = BTreeMap::new();
    for id in 1..=30 {
        let answer = post(&client, &server, body(&[id])).await;
        let expected_code = match answer.status {
            500 => "ERROR_INTERNAL",
            503 => "ERROR_MAINTENANCE",
            other => panic!("unexpected status {other}"),
        };
        assert_eq!(error_code(&answer), expected_code);
        *seen.entry(answer.status).or_insert(0) += 1;
    }
    assert_eq!(
        seen.len(),
        2,
        "both failures appear over 30 draws: {seen:?}"
    );
    assert_eq!(server.stats().ids_blocked, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn false_rate_one_answers_data_false_and_blocks_nothing() {
    let server = start(faulty(Faults {
        false_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let client = client();
    for id in 1..=3 {
        let answer = post(&client, &server, body(&[id])).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, json!({ "data": false }));
    }
    let stats = server.stats();
    assert_eq!(stats.by_status, BTreeMap::from([(200, 3)]));
    assert_eq!(stats.ids_blocked, 0);
    assert_eq!(stats.ids, Some(BTreeMap::new()));
    server.shutdown().await;
}

#[tokio::test]
async fn reset_rate_one_drops_the_connection_without_an_answer() {
    let server = start(faulty(Faults {
        reset_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let client = client();
    for id in 1..=2 {
        let result = try_post(
            &client,
            &server,
            Some(&format!("Bearer {KEY}")),
            body(&[id]),
        )
        .await;
        let error = result
            .err()
            .expect("a dropped connection is a client error");
        assert!(!error.is_timeout() && error.status().is_none(), "{error:?}");
    }
    let stats = server.stats();
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.by_status, BTreeMap::from([(0, 2)]));
    // The server keeps serving other routes after dropping connections.
    let health = client
        .get(format!("{}/_mock/health", server.base_url()))
        .send()
        .await
        .expect("health answers");
    assert_eq!(health.status().as_u16(), 200);
    server.shutdown().await;
}

#[tokio::test]
async fn latency_lets_requests_overlap() {
    let server = start(faulty(Faults {
        latency: Some((Duration::from_millis(100), Duration::from_millis(150))),
        ..Faults::default()
    }))
    .await;
    let answers: Vec<u16> = post_concurrently(&server, 1..=8)
        .await
        .iter()
        .map(|response| response.status().as_u16())
        .collect();
    assert!(answers.iter().all(|&status| status == 200), "{answers:?}");
    assert!(server.stats().max_in_flight > 1);
    server.shutdown().await;
}

#[tokio::test]
async fn same_seed_gives_the_same_sequence_of_answers() {
    async fn run(seed: u64) -> Vec<(u16, Value)> {
        let server = start(faulty(Faults {
            fail_rate: 0.3,
            false_rate: 0.3,
            poison: vec![],
            seed: Some(seed),
            ..Faults::default()
        }))
        .await;
        let client = client();
        let mut answers = Vec::new();
        for id in 1..=40 {
            let answer = post(&client, &server, body(&[id])).await;
            answers.push((answer.status, answer.body));
        }
        server.shutdown().await;
        answers
    }
    let first = run(42).await;
    assert_eq!(first, run(42).await);
    assert_ne!(first, run(43).await);
    let statuses: std::collections::BTreeSet<u16> = first.iter().map(|(s, _)| *s).collect();
    assert!(
        statuses.contains(&200) && statuses.len() > 1,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn stats_route_serves_json_that_parses_back_into_stats() {
    let server = start(MockConfig::new(KEY)).await;
    let client = client();
    post(&client, &server, body(&[9, 10])).await;
    try_post(&client, &server, None, body(&[11]))
        .await
        .expect("mock answers");
    let served: Stats = client
        .get(format!("{}/_mock/stats", server.base_url()))
        .send()
        .await
        .expect("stats answers")
        .json()
        .await
        .expect("stats JSON parses into Stats");
    assert_eq!(served, server.stats());
    assert_eq!(served.by_status, BTreeMap::from([(200, 1), (401, 1)]));
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_get_a_json_404_and_are_not_counted() {
    let server = start(MockConfig::new(KEY)).await;
    let client = client();
    for (method, path) in [
        (reqwest::Method::GET, "/nope"),
        (reqwest::Method::PUT, BLOCK_PATH),
        (reqwest::Method::DELETE, "/api/v1/crm/block-visitor/5"),
        (reqwest::Method::POST, "/api/v1/crm/other"),
    ] {
        let response = client
            .request(method.clone(), format!("{}{path}", server.base_url()))
            .send()
            .await
            .expect("mock answers");
        assert_eq!(response.status().as_u16(), 404, "{method} {path}");
        let error: Value = response.json().await.expect("JSON error body");
        assert_eq!(error["error"]["code"], "ERROR_NOT_FOUND");
    }
    assert_eq!(server.stats().requests, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn fast_path_counts_without_recording_ids() {
    let server = start(MockConfig {
        record_ids: false,
        ..MockConfig::new(KEY)
    })
    .await;
    let client = client();
    post(&client, &server, body(&[1, 2, 3])).await;
    let stats = server.stats();
    assert_eq!(stats.ids_blocked, 3);
    assert_eq!(stats.batch_sizes, BTreeMap::from([(3, 1)]));
    assert_eq!(stats.ids, None);
    assert_eq!(stats.max_per_second, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let server = start(MockConfig::new(KEY)).await;
    let base = server.base_url();
    let client = client();
    assert!(base.starts_with("http://127.0.0.1:"));
    let health = client.get(format!("{base}/_mock/health")).send().await;
    assert_eq!(health.map(|r| r.status().as_u16()).ok(), Some(200));
    server.shutdown().await;
    let fresh = client_without_pool();
    assert!(
        fresh
            .get(format!("{base}/_mock/health"))
            .send()
            .await
            .is_err()
    );
}

#[test]
fn debug_of_config_does_not_show_the_key() {
    let shown = format!("{:?}", MockConfig::new(KEY));
    assert!(!shown.contains(KEY), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
}

fn client_without_pool() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("reqwest client builds once a provider is installed")
}

/// Sends one block request per ID, all at once, each on its own task.
async fn post_concurrently(
    server: &MockServer,
    ids: std::ops::RangeInclusive<u64>,
) -> Vec<reqwest::Response> {
    let client = client();
    let mut tasks = tokio::task::JoinSet::new();
    for id in ids {
        let request = client
            .post(format!("{}{BLOCK_PATH}", server.base_url()))
            .header("authorization", format!("Bearer {KEY}"))
            .body(body(&[id]));
        tasks.spawn(request.send());
    }
    let mut responses = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        responses.push(joined.expect("request task ran").expect("mock answers"));
    }
    responses
}
