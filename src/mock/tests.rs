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
async fn odd_answer_rate_one_answers_an_undocumented_200_and_blocks_nothing() {
    let server = start(faulty(Faults {
        odd_answer_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let client = client();
    for id in 1..=3 {
        let answer = post(&client, &server, body(&[id])).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, json!({ "status": "ok" }));
    }
    let stats = server.stats();
    assert_eq!(stats.by_status, BTreeMap::from([(200, 3)]));
    assert_eq!(stats.ids_blocked, 0);
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

// ---- the block list: records, duplicates, list, get, delete, email and ip ----

const LATER: &str = "2031-01-01T00:00:00.000Z";

fn with_list(block_list: BlockListOptions) -> MockConfig {
    faulty(Faults {
        block_list,
        ..Faults::default()
    })
}

fn records_mode() -> MockConfig {
    with_list(BlockListOptions {
        answer: AnswerMode::Records,
        ..BlockListOptions::default()
    })
}

fn typed_body(kind: &str, values: &[&str], till: &str) -> String {
    json!({ "data": values, "type": kind, "blockTill": till }).to_string()
}

fn body_till(ids: &[u64], till: &str) -> String {
    json!({ "data": ids, "type": "contact", "blockTill": till }).to_string()
}

async fn call(
    client: &reqwest::Client,
    server: &MockServer,
    method: reqwest::Method,
    path: &str,
    auth: &str,
) -> reqwest::Result<Answer> {
    let response = client
        .request(method, format!("{}{path}", server.base_url()))
        .header("authorization", auth)
        .send()
        .await?;
    let status = response.status().as_u16();
    let body = response.json::<Value>().await?;
    Ok(Answer { status, body })
}

async fn get(client: &reqwest::Client, server: &MockServer, path: &str) -> Answer {
    call(
        client,
        server,
        reqwest::Method::GET,
        path,
        &format!("Bearer {KEY}"),
    )
    .await
    .expect("mock answers")
}

async fn delete(client: &reqwest::Client, server: &MockServer, id: &str) -> Answer {
    let path = format!("{BLOCK_PATH}?id={id}");
    call(
        client,
        server,
        reqwest::Method::DELETE,
        &path,
        &format!("Bearer {KEY}"),
    )
    .await
    .expect("mock answers")
}

fn record_ids(records: &Value) -> Vec<u64> {
    records
        .as_array()
        .map(|all| all.iter().filter_map(|r| r["id"].as_u64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn records_answer_has_one_documented_record_per_value_in_request_order() {
    let server = start(records_mode()).await;
    let client = client();
    let answer = post(&client, &server, body(&[828, 827])).await;
    assert_eq!(answer.status, 200);
    let records = &answer.body["data"];
    assert_eq!(record_ids(records), [1, 2]);
    let first = &records[0];
    assert_eq!(first["type"], "contact");
    assert_eq!(
        first["data"],
        json!({ "id": 828, "ip": "", "email": "", "phone": "" })
    );
    assert_eq!(records[1]["data"]["id"], 827);
    assert_eq!(first["blockTill"], TILL);
    assert_eq!(first["blockBy"], 1);
    assert_eq!(first["user"]["id"], 1);
    let created = first["dateCreated"].as_str().unwrap_or_default();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok() && created.ends_with('Z'),
        "{created}"
    );
    // Already blocked 827 keeps record 2 (updated, answered as if created); 900 is new.
    let again = post(&client, &server, body_till(&[900, 827], LATER)).await;
    assert_eq!(record_ids(&again.body["data"]), [3, 2]);
    assert_eq!(again.body["data"][1]["blockTill"], LATER);
    let stats = server.stats();
    assert_eq!(stats.live_records, 3);
    assert_eq!(
        stats.live_by_type,
        BTreeMap::from([("contact".to_owned(), 3)])
    );
    server.shutdown().await;
}

#[tokio::test]
async fn duplicate_updates_block_till_by_default() {
    let server = start(MockConfig::new(KEY)).await;
    let client = client();
    assert_eq!(
        post(&client, &server, body(&[5])).await.body,
        json!({ "data": true })
    );
    let again = post(&client, &server, body_till(&[5], LATER)).await;
    assert_eq!((again.status, again.body), (200, json!({ "data": true })));
    let record = get(&client, &server, &format!("{BLOCK_PATH}/1")).await;
    assert_eq!(record.status, 200);
    assert_eq!(record.body["data"]["blockTill"], LATER);
    assert_eq!(record.body["data"]["data"]["id"], 5);
    assert_eq!(server.stats().live_records, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn duplicate_400_names_the_value_and_blocks_nothing_of_that_request() {
    let server = start(with_list(BlockListOptions {
        on_duplicate: OnDuplicate::Reject,
        ..BlockListOptions::default()
    }))
    .await;
    let client = client();
    assert_eq!(post(&client, &server, body(&[5, 6])).await.status, 200);
    let refused = post(&client, &server, body_till(&[7, 6], LATER)).await;
    assert_eq!(refused.status, 400);
    assert_eq!(error_code(&refused), "ERROR_DUPLICATE_RECORD_FOUND");
    let message = refused.body["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("contact 6 (data[1])") && message.contains("block record 2"),
        "{message}"
    );
    let repeated = post(&client, &server, body(&[8, 8])).await;
    assert_eq!(error_code(&repeated), "ERROR_DUPLICATE_RECORD_FOUND");
    let stats = server.stats();
    assert_eq!((stats.live_records, stats.ids_blocked), (2, 2));
    // 7 was not blocked: it can be now, and takes the next id.
    let list = get(&client, &server, BLOCK_PATH).await;
    assert_eq!(record_ids(&list.body["data"]["data"]), [1, 2]);
    assert_eq!(list.body["data"]["data"][1]["blockTill"], TILL);
    assert_eq!(post(&client, &server, body(&[7])).await.status, 200);
    assert_eq!(
        get(&client, &server, &format!("{BLOCK_PATH}/3"))
            .await
            .status,
        200
    );
    server.shutdown().await;
}

#[tokio::test]
async fn list_pages_with_offset_and_limit_and_a_short_last_page() {
    let server = start(MockConfig::new(KEY)).await;
    let client = client();
    let ids: Vec<u64> = (1001..=2100).collect();
    assert_eq!(post(&client, &server, body(&ids)).await.status, 200);

    let first = get(&client, &server, BLOCK_PATH).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["data"]["offset"], 0);
    assert_eq!(first.body["data"]["count"], 1100);
    let page = record_ids(&first.body["data"]["data"]);
    assert_eq!(page, (1..=100).collect::<Vec<u64>>(), "default limit 100");
    assert_eq!(first.body["data"]["data"][0]["data"]["id"], 1001);

    let middle = get(&client, &server, &format!("{BLOCK_PATH}?offset=10&limit=5")).await;
    assert_eq!(middle.body["data"]["offset"], 10);
    assert_eq!(
        record_ids(&middle.body["data"]["data"]),
        [11, 12, 13, 14, 15]
    );

    let capped = get(
        &client,
        &server,
        &format!("{BLOCK_PATH}?limit=5000&offset=0"),
    )
    .await;
    assert_eq!(record_ids(&capped.body["data"]["data"]).len(), 1000);
    let last = get(
        &client,
        &server,
        &format!("{BLOCK_PATH}?offset=1000&limit=1000"),
    )
    .await;
    let page = record_ids(&last.body["data"]["data"]);
    assert_eq!(
        (page.len(), page.first(), page.last()),
        (100, Some(&1001), Some(&1100))
    );
    let beyond = get(&client, &server, &format!("{BLOCK_PATH}?offset=5000")).await;
    assert_eq!(beyond.status, 200);
    assert_eq!(beyond.body["data"]["data"], json!([]));
    assert_eq!(beyond.body["data"]["count"], 1100);

    let ignored =
        format!("{BLOCK_PATH}?offset=2&limit=1&where=%7B%7D&select=id&order=%7B%22id%22%3A1%7D");
    assert_eq!(
        record_ids(&get(&client, &server, &ignored).await.body["data"]["data"]),
        [3]
    );
    for bad in ["offset=x", "limit=-1", "limit=0", "offset=%ZZ"] {
        let answer = get(&client, &server, &format!("{BLOCK_PATH}?{bad}")).await;
        assert_eq!(
            (answer.status, error_code(&answer)),
            (400, "ERROR_INVALID_INPUT"),
            "{bad}"
        );
    }
    assert_eq!(server.stats().list_requests, 10);
    server.shutdown().await;
}

#[tokio::test]
async fn list_ignores_offset_fault_always_answers_the_first_page() {
    let server = start(with_list(BlockListOptions {
        list_ignores_offset: true,
        ..BlockListOptions::default()
    }))
    .await;
    let client = client();
    post(&client, &server, body(&[1, 2, 3, 4, 5])).await;
    for offset in [0, 2, 4, 100] {
        let page = get(
            &client,
            &server,
            &format!("{BLOCK_PATH}?offset={offset}&limit=2"),
        )
        .await;
        assert_eq!(page.body["data"]["offset"], 0);
        assert_eq!(
            record_ids(&page.body["data"]["data"]),
            [1, 2],
            "offset {offset}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn get_by_id_answers_the_record_or_400_not_found() {
    let server = start(MockConfig::new(KEY)).await;
    let client = client();
    post(&client, &server, body(&[597304])).await;
    let found = get(&client, &server, &format!("{BLOCK_PATH}/1")).await;
    assert_eq!(found.status, 200);
    let record = &found.body["data"];
    assert_eq!(record["id"], 1);
    assert_eq!(record["type"], "contact");
    assert_eq!(record["data"]["id"], 597304);
    assert_eq!(record["blockTill"], TILL);
    assert_eq!(record["blockBy"], 1);
    assert!(record.get("user").is_none(), "the get page shows no user");
    let missing = get(&client, &server, &format!("{BLOCK_PATH}/2")).await;
    assert_eq!(
        (missing.status, error_code(&missing)),
        (400, "ERROR_RECORD_NOT_FOUND")
    );
    let bad = get(&client, &server, &format!("{BLOCK_PATH}/abc")).await;
    assert_eq!((bad.status, error_code(&bad)), (400, "ERROR_INVALID_INPUT"));
    assert_eq!(server.stats().get_requests, 3);
    server.shutdown().await;
}

#[tokio::test]
async fn delete_answers_affected_one_then_zero() {
    let server = start(MockConfig::new(KEY)).await;
    let client = client();
    post(&client, &server, body(&[10, 11, 12])).await;
    let deleted = delete(&client, &server, "2").await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.body["data"]["deleted"]["affected"], 1);
    assert_eq!(deleted.body["data"]["deleted"]["raw"]["affectedRows"], 1);
    let again = delete(&client, &server, "2").await;
    assert_eq!(
        (
            again.status,
            again.body["data"]["deleted"]["affected"].clone()
        ),
        (200, json!(0))
    );
    let never = delete(&client, &server, "99").await;
    assert_eq!(never.body["data"]["deleted"]["affected"], 0);
    for bad in ["x", ""] {
        let answer = delete(&client, &server, bad).await;
        assert_eq!(
            (answer.status, error_code(&answer)),
            (400, "ERROR_INVALID_INPUT")
        );
    }
    let no_id = call(
        &client,
        &server,
        reqwest::Method::DELETE,
        BLOCK_PATH,
        &format!("Bearer {KEY}"),
    )
    .await
    .expect("mock answers");
    assert_eq!(error_code(&no_id), "ERROR_INVALID_INPUT");

    let list = get(&client, &server, BLOCK_PATH).await;
    assert_eq!(list.body["data"]["count"], 2);
    assert_eq!(record_ids(&list.body["data"]["data"]), [1, 3]);
    let gone = get(&client, &server, &format!("{BLOCK_PATH}/2")).await;
    assert_eq!(error_code(&gone), "ERROR_RECORD_NOT_FOUND");
    // 11 is no longer blocked: blocking it again makes a new record.
    post(&client, &server, body(&[11])).await;
    assert_eq!(
        get(&client, &server, &format!("{BLOCK_PATH}/4")).await.body["data"]["data"]["id"],
        11
    );
    let stats = server.stats();
    assert_eq!(
        (
            stats.live_records,
            stats.records_deleted,
            stats.delete_requests
        ),
        (3, 1, 6)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn faults_and_the_key_check_apply_to_list_get_and_delete() {
    let server = start(faulty(Faults {
        fail_rate: 1.0,
        seed: Some(3),
        ..Faults::default()
    }))
    .await;
    let client = client();
    let auth = format!("Bearer {KEY}");
    for (method, path) in [
        (reqwest::Method::GET, BLOCK_PATH.to_owned()),
        (reqwest::Method::GET, format!("{BLOCK_PATH}/1")),
        (reqwest::Method::DELETE, format!("{BLOCK_PATH}?id=1")),
    ] {
        let failed = call(&client, &server, method.clone(), &path, &auth)
            .await
            .expect("mock answers");
        assert!(
            matches!(failed.status, 500 | 503),
            "{method} {path}: {}",
            failed.status
        );
        let refused = call(&client, &server, method.clone(), &path, "Bearer wrong")
            .await
            .expect("mock answers");
        assert_eq!(
            (refused.status, error_code(&refused)),
            (401, "ERROR_UNAUTHORIZED")
        );
        assert!(!refused.body.to_string().contains(KEY));
    }
    let stats = server.stats();
    assert_eq!(
        (
            stats.list_requests,
            stats.get_requests,
            stats.delete_requests
        ),
        (2, 2, 2)
    );
    assert_eq!(stats.requests, 0, "requests counts blocks only");
    server.shutdown().await;

    let resetting = start(faulty(Faults {
        reset_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let dropped = call(&client, &resetting, reqwest::Method::GET, BLOCK_PATH, &auth).await;
    assert!(dropped.is_err());
    assert_eq!(resetting.stats().by_status, BTreeMap::from([(0, 1)]));
    resetting.shutdown().await;

    let revoking = start(faulty(Faults {
        revoke_after: Some(1),
        ..Faults::default()
    }))
    .await;
    assert_eq!(post(&client, &revoking, body(&[1])).await.status, 200);
    assert_eq!(get(&client, &revoking, BLOCK_PATH).await.status, 401);
    assert_eq!(delete(&client, &revoking, "1").await.status, 401);
    assert_eq!(revoking.stats().live_records, 1);
    revoking.shutdown().await;
}

#[tokio::test]
async fn emails_and_ips_are_validated_and_kept_as_string_records() {
    let server = start(records_mode()).await;
    let client = client();
    let emails = post(
        &client,
        &server,
        typed_body("email", &["a@b.co", "c.d@e.org"], TILL),
    )
    .await;
    assert_eq!(emails.status, 200);
    assert_eq!(emails.body["data"][0]["type"], "email");
    assert_eq!(emails.body["data"][0]["data"], json!(["a@b.co"]));
    assert_eq!(emails.body["data"][1]["data"], json!(["c.d@e.org"]));
    let ips = post(
        &client,
        &server,
        typed_body("ip", &["10.0.0.1", "2001:DB8::1"], TILL),
    )
    .await;
    assert_eq!(record_ids(&ips.body["data"]), [3, 4]);
    assert_eq!(ips.body["data"][1]["data"], json!(["2001:db8::1"]));
    let same = post(
        &client,
        &server,
        typed_body("ip", &["2001:db8:0::1"], LATER),
    )
    .await;
    assert_eq!(
        record_ids(&same.body["data"]),
        [4],
        "the same address in another spelling"
    );

    for (kind, values, bad) in [
        (
            "email",
            vec!["ok@fine.co", "not an email"],
            "\"not an email\"",
        ),
        ("email", vec!["x@nodot"], "\"x@nodot\""),
        ("ip", vec!["10.0.0.1", "10.0.0.300"], "\"10.0.0.300\""),
    ] {
        let answer = post(&client, &server, typed_body(kind, &values, TILL)).await;
        assert_eq!(
            (answer.status, error_code(&answer)),
            (400, "ERROR_INVALID_INPUT")
        );
        let message = answer.body["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(bad), "{message}");
    }
    let numbers = post(
        &client,
        &server,
        json!({ "data": [1], "type": "email", "blockTill": TILL }).to_string(),
    )
    .await;
    assert_eq!(error_code(&numbers), "ERROR_INVALID_INPUT");
    let stats = server.stats();
    assert_eq!(
        stats.live_by_type,
        BTreeMap::from([("email".to_owned(), 2), ("ip".to_owned(), 2)])
    );
    assert_eq!(stats.ids_blocked, 5);
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_kept_list_blocks_stay_fast_and_list_calls_say_how_to_get_one() {
    let server = start(MockConfig {
        record_ids: false,
        ..MockConfig::new(KEY)
    })
    .await;
    let client = client();
    assert_eq!(
        post(&client, &server, body(&[1, 1])).await.body,
        json!({ "data": true })
    );
    let list = get(&client, &server, BLOCK_PATH).await;
    assert_eq!((list.status, error_code(&list)), (404, "ERROR_NOT_FOUND"));
    let message = list.body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("--block-list"), "{message}");
    let stats = server.stats();
    assert_eq!((stats.live_records, stats.ids_blocked), (0, 2));
    server.shutdown().await;
}

// ---- the account's state: seeds, expiry, multi-value records, admin routes ----

const AUTH: &str = "Bearer test-key-5ecret";

/// A request with the key, optionally with a JSON body; `auth` replaces the key's header.
async fn send(
    client: &reqwest::Client,
    server: &MockServer,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    auth: Option<&str>,
) -> Answer {
    let mut request = client.request(method, format!("{}{path}", server.base_url()));
    if let Some(auth) = auth.or(Some(AUTH)).filter(|a| !a.is_empty()) {
        request = request.header("authorization", auth);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("mock answers");
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.expect("a JSON answer");
    Answer { status, body }
}

async fn admin_get(client: &reqwest::Client, server: &MockServer, query: &str) -> Answer {
    let path = format!("/_mock/records{query}");
    send(client, server, reqwest::Method::GET, &path, None, None).await
}

async fn admin_post(
    client: &reqwest::Client,
    server: &MockServer,
    route: &str,
    body: Value,
) -> Answer {
    let path = format!("/_mock/{route}");
    send(
        client,
        server,
        reqwest::Method::POST,
        &path,
        Some(body),
        None,
    )
    .await
}

fn seeded(seed: Vec<Seed>, block_list: BlockListOptions) -> MockConfig {
    MockConfig {
        seeds: seed,
        ..with_list(block_list)
    }
}

/// The values of the records in a `/_mock/records` answer, by record id.
fn values_by_id(answer: &Answer) -> BTreeMap<u64, Value> {
    answer.body["records"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .filter_map(|r| Some((r["id"].as_u64()?, r["values"].clone())))
                .collect()
        })
        .unwrap_or_default()
}

fn days(n: i64) -> SeedTill {
    SeedTill::FromNow(chrono::TimeDelta::days(n))
}

#[tokio::test]
async fn seeded_records_are_the_accounts_before_the_first_request() {
    let server = start(seeded(
        vec![
            SeedRecord::contact(827).into(),
            SeedRecord::emails(["10.10.10.10", "11.11.11.11"])
                .till(SeedTill::At(
                    "2020-03-26T23:59:59Z".parse().expect("a time"),
                ))
                .by(7)
                .into(),
            "ip:1-3,per=2,by=1"
                .parse::<SeedRange>()
                .expect("range")
                .into(),
        ],
        BlockListOptions::default(),
    ))
    .await;
    let client = client();
    let list = get(&client, &server, BLOCK_PATH).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["data"]["count"], 4);
    let records = &list.body["data"]["data"];
    assert_eq!(record_ids(records), [1, 2, 3, 4]);
    assert_eq!(records[0]["data"]["id"], 827);
    assert_eq!(records[0]["blockBy"], OTHER_USER);
    assert_eq!(records[0]["user"]["id"], OTHER_USER);
    // The docs' record 6: an email record holding two strings, long expired, still listed.
    assert_eq!(records[1]["type"], "email");
    assert_eq!(records[1]["data"], json!(["10.10.10.10", "11.11.11.11"]));
    assert_eq!(records[1]["blockTill"], "2020-03-26T23:59:59.000Z");
    assert_eq!(records[1]["blockBy"], 7);
    assert_eq!(records[2]["data"], json!(["10.0.0.1", "10.0.0.2"]));
    assert_eq!(records[3]["data"], json!(["10.0.0.3"]));
    assert_eq!(records[3]["blockBy"], BLOCK_BY);
    let one = get(&client, &server, &format!("{BLOCK_PATH}/2")).await;
    assert_eq!(
        one.body["data"]["data"],
        json!(["10.10.10.10", "11.11.11.11"])
    );

    let stats = server.stats();
    assert_eq!((stats.records_seeded, stats.records_created), (4, 0));
    assert_eq!((stats.live_records, stats.expired_records), (4, 1));
    assert_eq!(
        stats.live_by_block_by,
        BTreeMap::from([(BLOCK_BY, 2), (OTHER_USER, 1), (7, 1)])
    );
    assert_eq!(stats.writes, 0, "seeds are not the client's writes");
    server.shutdown().await;
}

#[tokio::test]
async fn a_bad_seed_stops_the_start_and_names_itself() {
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let started = MockServer::start(
        loopback,
        seeded(
            vec![
                SeedRecord::contact(1).into(),
                SeedRecord::ips(["nope"]).into(),
            ],
            BlockListOptions::default(),
        ),
    )
    .await;
    let error = started.expect_err("a bad seed");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("seed 2"), "{error}");
    assert!(error.to_string().contains("\"nope\""), "{error}");
}

#[tokio::test]
async fn expired_records_stay_listed_and_every_rule_applies_to_them_and_to_live_ones() {
    let client = client();
    for rule in [OnDuplicate::Update, OnDuplicate::Reject, OnDuplicate::Add] {
        for (contact, expired) in [(10_u64, true), (20, false)] {
            let server = start(seeded(
                vec![
                    SeedRecord::contact(10).till(days(-1)).into(),
                    SeedRecord::contact(20).till(days(1)).into(),
                ],
                BlockListOptions {
                    on_duplicate: rule,
                    answer: AnswerMode::Records,
                    ..BlockListOptions::default()
                },
            ))
            .await;
            let case = format!(
                "{rule:?} on an {} record",
                if expired { "expired" } else { "live" }
            );
            let answer = post(&client, &server, body_till(&[contact], LATER)).await;
            let holding = server.records_holding(Kind::Contact, &contact.to_string());
            let stats = server.stats();
            match rule {
                OnDuplicate::Update => {
                    assert_eq!(answer.status, 200, "{case}");
                    let old = if expired { 1 } else { 2 };
                    assert_eq!(record_ids(&answer.body["data"]), [old], "{case}");
                    assert_eq!(answer.body["data"][0]["blockTill"], LATER, "{case}");
                    assert_eq!(holding.len(), 1, "{case}");
                    assert!(!holding[0].expired, "{case}");
                    assert_eq!(holding[0].block_by, OTHER_USER, "{case}: still the other's");
                    assert_eq!((stats.values_updated, stats.records_created), (1, 0));
                }
                OnDuplicate::Reject => {
                    assert_eq!(
                        (answer.status, error_code(&answer)),
                        (400, "ERROR_DUPLICATE_RECORD_FOUND"),
                        "{case}"
                    );
                    let message = answer.body["error"]["message"].as_str().unwrap_or("");
                    assert_eq!(message.contains("expired"), expired, "{case}: {message}");
                    assert_eq!(holding.len(), 1, "{case}");
                    assert_eq!(holding[0].expired, expired, "{case}");
                    assert_eq!(stats.duplicates_refused, 1);
                }
                OnDuplicate::Add => {
                    assert_eq!(record_ids(&answer.body["data"]), [3], "{case}");
                    let states: Vec<(u64, bool)> =
                        holding.iter().map(|r| (r.id, r.expired)).collect();
                    let old = if expired { 1 } else { 2 };
                    assert_eq!(states, [(old, expired), (3, false)], "{case}");
                    assert_eq!(stats.records_created, 1);
                }
            }
            // The old record is still listed (unless updated in place): the list shows both.
            let list = get(&client, &server, BLOCK_PATH).await;
            let expected = if rule == OnDuplicate::Add { 3 } else { 2 };
            assert_eq!(list.body["data"]["count"], expected, "{case}");
            server.shutdown().await;
        }
    }
}

#[tokio::test]
async fn an_expired_record_can_have_its_own_rule() {
    let server = start(seeded(
        vec![
            SeedRecord::contact(10).till(days(-1)).into(),
            SeedRecord::contact(20).till(days(1)).into(),
        ],
        BlockListOptions {
            on_duplicate: OnDuplicate::Reject,
            on_expired_duplicate: Some(OnDuplicate::Update),
            ..BlockListOptions::default()
        },
    ))
    .await;
    let client = client();
    let live = post(&client, &server, body_till(&[20], LATER)).await;
    assert_eq!(error_code(&live), "ERROR_DUPLICATE_RECORD_FOUND");
    let expired = post(&client, &server, body_till(&[10], LATER)).await;
    assert_eq!(expired.status, 200);
    let record = server.records_holding(Kind::Contact, "10");
    assert_eq!(
        (
            record[0].id,
            record[0].block_till.as_str(),
            record[0].expired
        ),
        (1, LATER, false)
    );
    // A block that ends in the past makes a record that is expired at once, listed all the same.
    let past = post(&client, &server, body_till(&[30], TILL)).await;
    assert_eq!(past.status, 200);
    assert!(server.records_holding(Kind::Contact, "30")[0].expired);
    assert_eq!(server.stats().expired_records, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn several_emails_share_a_record_and_its_delete_unblocks_them_all() {
    let server = start(with_list(BlockListOptions {
        answer: AnswerMode::Records,
        values_per_record: 2,
        ..BlockListOptions::default()
    }))
    .await;
    let client = client();
    let emails = ["a@x.co", "b@x.co", "c@x.co", "d@x.co", "e@x.co"];
    let answer = post(&client, &server, typed_body("email", &emails, LATER)).await;
    assert_eq!(answer.status, 200);
    let records = &answer.body["data"];
    assert_eq!(record_ids(records), [1, 2, 3], "each record once");
    assert_eq!(records[0]["data"], json!(["a@x.co", "b@x.co"]));
    assert_eq!(records[2]["data"], json!(["e@x.co"]));
    let list = get(&client, &server, BLOCK_PATH).await;
    assert_eq!(
        list.body["data"]["data"][1]["data"],
        json!(["c@x.co", "d@x.co"])
    );
    let one = get(&client, &server, &format!("{BLOCK_PATH}/2")).await;
    assert_eq!(one.body["data"]["data"], json!(["c@x.co", "d@x.co"]));

    // Blocking d again updates record 2: c goes with it.
    let again = post(&client, &server, typed_body("email", &["d@x.co"], TILL)).await;
    assert_eq!(record_ids(&again.body["data"]), [2]);
    assert_eq!(
        server.records_holding(Kind::Email, "c@x.co")[0].block_till,
        TILL
    );

    let deleted = delete(&client, &server, "1").await;
    assert_eq!(deleted.body["data"]["deleted"]["affected"], 1);
    assert!(server.records_holding(Kind::Email, "a@x.co").is_empty());
    assert!(server.records_holding(Kind::Email, "b@x.co").is_empty());
    assert_eq!(server.records_holding(Kind::Email, "c@x.co").len(), 1);
    let stats = server.stats();
    assert_eq!(
        stats.live_by_type,
        BTreeMap::from([("email".to_owned(), 2)])
    );
    assert_eq!((stats.records_created, stats.ids_blocked), (3, 6));
    // b can be blocked again: a new record.
    let b = post(&client, &server, typed_body("email", &["b@x.co"], LATER)).await;
    assert_eq!(record_ids(&b.body["data"]), [4]);
    server.shutdown().await;
}

#[tokio::test]
async fn all_values_in_one_record_as_the_docs_example_answers() {
    let server = start(with_list(BlockListOptions {
        answer: AnswerMode::Records,
        values_per_record: usize::MAX,
        on_duplicate: OnDuplicate::Add,
        ..BlockListOptions::default()
    }))
    .await;
    let client = client();
    let answer = post(
        &client,
        &server,
        typed_body("ip", &["10.10.10.10", "11.11.11.11"], TILL),
    )
    .await;
    let records = answer.body["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["data"], json!(["10.10.10.10", "11.11.11.11"]));
    assert_eq!(records[0]["type"], "ip");
    // With add, a value of it blocked again gets a record of its own; the old one stays.
    let again = post(&client, &server, typed_body("ip", &["11.11.11.11"], LATER)).await;
    assert_eq!(record_ids(&again.body["data"]), [2]);
    let holding: Vec<u64> = server
        .records_holding(Kind::Ip, "11.11.11.11")
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(holding, [1, 2]);
    server.shutdown().await;
}

#[tokio::test]
async fn admin_unblock_acts_behind_the_clients_back_and_is_not_its_request() {
    let server = start(seeded(
        vec![SeedRecord::emails(["a@x.co", "b@x.co", "c@x.co"]).into()],
        BlockListOptions::default(),
    ))
    .await;
    let client = client();
    post(&client, &server, body(&[5, 6, 7])).await;
    let before = server.stats();

    for auth in ["", "Bearer wrong"] {
        let refused = send(
            &client,
            &server,
            reqwest::Method::POST,
            "/_mock/unblock",
            Some(json!({ "ids": [2] })),
            Some(auth),
        )
        .await;
        assert_eq!(
            (refused.status, error_code(&refused)),
            (401, "ERROR_UNAUTHORIZED")
        );
        assert!(!refused.body.to_string().contains("5ecret"));
    }
    // One value of a multi-value record: the whole record goes, as in the web app.
    let by_value = admin_post(
        &client,
        &server,
        "unblock",
        json!({ "type": "email", "values": ["b@x.co"] }),
    )
    .await;
    assert_eq!(by_value.status, 200);
    assert_eq!(by_value.body["affected"], 1);
    assert_eq!(by_value.body["deleted"][0]["id"], 1);
    assert_eq!(
        by_value.body["deleted"][0]["values"],
        json!(["a@x.co", "b@x.co", "c@x.co"])
    );
    let by_id_and_contact = admin_post(
        &client,
        &server,
        "unblock",
        json!({ "ids": [2, 99], "values": [7] }),
    )
    .await;
    assert_eq!(by_id_and_contact.body["affected"], 2);
    let gone = admin_post(&client, &server, "unblock", json!({ "ids": [2] })).await;
    assert_eq!(
        (gone.status, gone.body["affected"].clone()),
        (200, json!(0))
    );
    for bad in [
        json!({}),
        json!([1]),
        json!({ "ids": ["x"] }),
        json!({ "values": [1], "type": "visitor" }),
    ] {
        let answer = admin_post(&client, &server, "unblock", bad.clone()).await;
        assert_eq!(
            (answer.status, error_code(&answer)),
            (400, "ERROR_INVALID_INPUT"),
            "{bad}"
        );
    }

    // The client sees what is left: contact 6 only.
    let list = get(&client, &server, BLOCK_PATH).await;
    assert_eq!(record_ids(&list.body["data"]["data"]), [3]);
    let after = server.stats();
    assert_eq!(
        after.requests, before.requests,
        "admin calls are not blocks"
    );
    assert_eq!(after.writes, before.writes);
    assert_eq!(after.delete_requests, 0);
    assert_eq!(
        after.records_deleted, 0,
        "records_deleted counts the client's DELETEs"
    );
    assert_eq!(after.admin_records_deleted, 3);
    assert_eq!(after.admin_requests, 9);
    assert_eq!(
        after.by_status,
        BTreeMap::from([(200, 2)]),
        "block and list only"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn admin_records_reads_the_account_with_filters() {
    let server = start(seeded(
        vec![
            SeedRecord::contact(10).till(days(-1)).into(),
            SeedRecord::ips(["2001:db8::1", "10.0.0.1"]).by(7).into(),
        ],
        BlockListOptions::default(),
    ))
    .await;
    let client = client();
    post(&client, &server, body_till(&[11], LATER)).await;

    let all = admin_get(&client, &server, "").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.body["count"], 3);
    assert!(
        all.body["now"]
            .as_str()
            .is_some_and(|now| now.ends_with('Z'))
    );
    let first = &all.body["records"][0];
    assert_eq!(
        (
            first["type"].clone(),
            first["values"].clone(),
            first["expired"].clone()
        ),
        (json!("contact"), json!([10]), json!(true))
    );
    assert_eq!(first["blockBy"], OTHER_USER);
    assert!(first["dateCreated"].as_str().is_some());
    let record: MockRecord =
        serde_json::from_value(all.body["records"][2].clone()).expect("a MockRecord");
    assert_eq!(record.values, RecordValues::Contact([11]));
    assert_eq!(record.block_till, LATER);
    assert_eq!((record.block_by, record.expired), (BLOCK_BY, false));

    let cases: [(&str, &[u64]); 9] = [
        ("?type=ip", &[2]),
        ("?value=2001:DB8:0::1", &[2]),
        ("?type=ip&value=10.0.0.1", &[2]),
        ("?value=11", &[3]),
        ("?blockBy=1", &[3]),
        ("?expired=true", &[1]),
        ("?expired=false&limit=1", &[2]),
        ("?offset=1", &[2, 3]),
        ("?id=3&type=contact", &[3]),
    ];
    for (query, ids) in cases {
        let answer = admin_get(&client, &server, query).await;
        let found: Vec<u64> = values_by_id(&answer).into_keys().collect();
        assert_eq!(found, ids, "{query}");
    }
    assert_eq!(
        admin_get(&client, &server, "?expired=false&limit=1")
            .await
            .body["count"],
        2
    );
    for bad in ["?type=visitor", "?expired=maybe", "?limit=x", "?colour=red"] {
        let answer = admin_get(&client, &server, bad).await;
        assert_eq!(
            (answer.status, error_code(&answer)),
            (400, "ERROR_INVALID_INPUT"),
            "{bad}"
        );
    }
    let refused = send(
        &client,
        &server,
        reqwest::Method::GET,
        "/_mock/records",
        None,
        Some(""),
    )
    .await;
    assert_eq!(refused.status, 401);
    let stats = server.stats();
    assert_eq!((stats.list_requests, stats.writes), (0, 1));
    server.shutdown().await;
}

#[tokio::test]
async fn admin_expire_and_seed_change_the_account_between_two_runs() {
    let server = start(with_list(BlockListOptions {
        on_duplicate: OnDuplicate::Reject,
        ..BlockListOptions::default()
    }))
    .await;
    let client = client();
    post(&client, &server, body_till(&[1, 2], LATER)).await;
    let expired = admin_post(&client, &server, "expire", json!({ "values": [1] })).await;
    assert_eq!(expired.body["affected"], 1);
    assert_eq!(expired.body["records"][0]["expired"], true);
    let redated = admin_post(
        &client,
        &server,
        "expire",
        json!({ "ids": [2], "blockTill": "2030-01-01T01:00:00+01:00" }),
    )
    .await;
    assert_eq!(
        redated.body["records"][0]["blockTill"],
        "2030-01-01T00:00:00.000Z"
    );
    let bad = admin_post(
        &client,
        &server,
        "expire",
        json!({ "ids": [2], "blockTill": "soon" }),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(server.stats().expired_records, 1);

    let created = admin_post(
        &client,
        &server,
        "seed",
        json!([
            { "type": "contact", "values": [3], "blockBy": 5 },
            { "range": "email:1-4,per=2,till=-1d" },
        ]),
    )
    .await;
    assert_eq!(created.body["created"], json!([3, 4, 5]));
    let refused = admin_post(
        &client,
        &server,
        "seed",
        json!([{ "values": [9] }, { "type": "ip", "values": ["x"] }]),
    )
    .await;
    assert_eq!(
        (refused.status, error_code(&refused)),
        (400, "ERROR_INVALID_INPUT")
    );
    let message = refused.body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("seed 2"), "{message}");
    assert!(
        server.records_holding(Kind::Contact, "9").is_empty(),
        "all or nothing"
    );
    // Blocking what another user blocked meets the duplicate rule like any record.
    let duplicate = post(&client, &server, body(&[3])).await;
    assert_eq!(error_code(&duplicate), "ERROR_DUPLICATE_RECORD_FOUND");
    let stats = server.stats();
    assert_eq!((stats.records_seeded, stats.admin_records_retimed), (3, 2));
    assert_eq!(
        stats.live_by_block_by,
        BTreeMap::from([(BLOCK_BY, 2), (OTHER_USER, 2), (5, 1)])
    );
    server.shutdown().await;
}

#[tokio::test]
async fn admin_methods_work_in_process_too() {
    let server = start(MockConfig::new(KEY)).await;
    let client = client();
    post(&client, &server, typed_body("email", &["a@x.co"], LATER)).await;
    let ids = server
        .seed(&[SeedRecord::contact(4).till(days(-2)).into()])
        .expect("seeded");
    assert_eq!(ids, [2]);
    assert!(server.seed(&[SeedRecord::contact(0).into()]).is_err());
    let all = server.records(&RecordQuery::default());
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2]);
    assert!(all[1].expired && all[1].values.holds("4"));
    let expired = server.expire(&Selector::texts(Kind::Email, ["a@x.co"]), days(-1));
    assert!(expired[0].expired);
    assert!(
        expired[0]
            .block_till_time()
            .is_some_and(|till| till < chrono::Utc::now())
    );
    let unblocked = server.unblock(&Selector::contacts([4]));
    assert_eq!(unblocked.len(), 1);
    assert_eq!(unblocked[0].values.strings(), ["4"]);
    assert!(server.unblock(&Selector::ids([2])).is_empty());
    let stats = server.stats();
    assert_eq!(
        (
            stats.admin_requests,
            stats.admin_records_deleted,
            stats.live_records
        ),
        (5, 1, 1)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn admin_routes_without_a_list_say_how_to_get_one() {
    let server = start(MockConfig {
        record_ids: false,
        ..MockConfig::new(KEY)
    })
    .await;
    let client = client();
    let records = admin_get(&client, &server, "").await;
    assert_eq!(
        (records.status, error_code(&records)),
        (404, "ERROR_NOT_FOUND")
    );
    let unblock = admin_post(&client, &server, "unblock", json!({ "ids": [1] })).await;
    assert_eq!(unblock.status, 404);
    assert!(server.records(&RecordQuery::default()).is_empty());
    assert!(server.seed(&[SeedRecord::contact(1).into()]).is_err());
    server.shutdown().await;
}

#[tokio::test]
async fn block_till_is_kept_in_utc_with_milliseconds() {
    let server = start(records_mode()).await;
    let client = client();
    let answer = post(
        &client,
        &server,
        body_till(&[1], "2030-01-01T10:00:00+02:00"),
    )
    .await;
    assert_eq!(
        answer.body["data"][0]["blockTill"],
        "2030-01-01T08:00:00.000Z"
    );
    let fine = post(
        &client,
        &server,
        body_till(&[2], "2030-01-01T08:00:00.123456Z"),
    )
    .await;
    assert_eq!(
        fine.body["data"][0]["blockTill"],
        "2030-01-01T08:00:00.123Z"
    );
    let deleted = delete(&client, &server, "1").await;
    assert_eq!(deleted.body["data"]["deleted"]["raw"]["parse"], json!({}));
    // The stats keep what was sent.
    assert!(
        server
            .stats()
            .block_tills
            .contains_key("2030-01-01T10:00:00+02:00")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn stats_count_each_route_and_the_writes() {
    let server = start(MockConfig::new(KEY)).await;
    let client = client();
    post(&client, &server, body(&[1, 2])).await;
    post(&client, &server, "{bad".to_owned()).await;
    get(&client, &server, BLOCK_PATH).await;
    get(&client, &server, &format!("{BLOCK_PATH}/9")).await;
    delete(&client, &server, "1").await;
    admin_get(&client, &server, "").await;
    let served = send(
        &client,
        &server,
        reqwest::Method::GET,
        "/_mock/stats",
        None,
        Some(""),
    )
    .await;
    let stats: Stats = serde_json::from_value(served.body).expect("stats parse back");
    assert_eq!(stats.writes, 3, "two POSTs and a DELETE");
    let route = |name: &str| stats.routes.get(name).cloned().unwrap_or_default();
    assert_eq!(
        route("POST /api/v1/crm/block-visitor"),
        RouteStats {
            requests: 2,
            by_status: BTreeMap::from([(200, 1), (400, 1)])
        }
    );
    assert_eq!(route("GET /api/v1/crm/block-visitor").requests, 1);
    assert_eq!(
        route("GET /api/v1/crm/block-visitor/{id}").by_status,
        BTreeMap::from([(400, 1)])
    );
    assert_eq!(
        route("DELETE /api/v1/crm/block-visitor").by_status,
        BTreeMap::from([(200, 1)])
    );
    assert_eq!(stats.routes.len(), 4);
    assert_eq!(
        (
            stats.admin_requests,
            stats.records_created,
            stats.records_deleted
        ),
        (1, 2, 1)
    );
    // A fresh imitation: no write, no route.
    let quiet = start(MockConfig::new(KEY)).await;
    get(&client, &quiet, BLOCK_PATH).await;
    let stats = quiet.stats();
    assert_eq!((stats.writes, stats.routes.len()), (0, 1));
    quiet.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn end_of_day_rounding_keeps_block_till_as_the_docs_show_it() {
    let server = start(with_list(BlockListOptions {
        answer: AnswerMode::Records,
        block_till_rounding: TillRounding::EndOfDay,
        ..BlockListOptions::default()
    }))
    .await;
    let client = client();
    let answer = post(
        &client,
        &server,
        body_till(&[872], "2020-03-26T08:19:24.627Z"),
    )
    .await;
    assert_eq!(
        answer.body["data"][0]["blockTill"],
        "2020-03-26T23:59:59.000Z"
    );
    let list = get(&client, &server, BLOCK_PATH).await;
    assert_eq!(
        list.body["data"]["data"][0]["blockTill"],
        "2020-03-26T23:59:59.000Z"
    );
    // Admin changes are taken as given.
    let redated = server.expire(
        &Selector::ids([1]),
        SeedTill::At("2030-01-01T08:00:00Z".parse().expect("a time")),
    );
    assert_eq!(redated[0].block_till, "2030-01-01T08:00:00.000Z");
    server.shutdown().await;
}

#[tokio::test]
async fn ratelimit_headers_come_with_every_answer_and_the_client_reads_them() {
    use crate::net::client::{Answer as ClientAnswer, Client, MAX_BODY};
    use crate::net::ratelimit_headers::Family;
    let block = |id: u64| {
        axum::body::Bytes::from(format!(
            r#"{{"data":[{id}],"type":"contact","blockTill":"{TILL}"}}"#
        ))
    };
    for (family, expected) in [
        (RateLimitHeaders::Github, Family::Github),
        (RateLimitHeaders::Draft, Family::Draft),
        (RateLimitHeaders::Policy, Family::Policy),
    ] {
        let server = start(faulty(Faults {
            rate_limit: Some(2),
            limit_kind: LimitKind::Fixed,
            ratelimit_headers: Some(family),
            ..Faults::default()
        }))
        .await;
        let url: url::Url = format!("{}{BLOCK_PATH}", server.base_url())
            .parse()
            .unwrap();
        let client = |key: &str| {
            let key = crate::net::api_key::ApiKey::new(key, "test").unwrap();
            Client::new(url.clone(), &key, Duration::from_secs(5), 4).unwrap()
        };
        let good = client(KEY);
        let mut statuses = Vec::new();
        for id in 1..=4 {
            let answer = good
                .send_http(&axum::http::Method::POST, None, block(id), MAX_BODY)
                .await;
            let ClientAnswer::Http {
                status, advertised, ..
            } = answer
            else {
                panic!("{answer:?}")
            };
            let advertised = advertised.unwrap_or_else(|| panic!("{family:?}: no headers"));
            assert_eq!(advertised.family, expected);
            assert_eq!(advertised.limit, Some(2));
            let remaining = advertised.remaining.unwrap();
            assert!(remaining <= 1, "{advertised:?}");
            if status == 429 {
                assert_eq!(remaining, 0, "{advertised:?}");
            }
            let reset = advertised.reset.unwrap();
            assert!(reset <= Duration::from_secs(2), "{advertised:?}");
            statuses.push(status);
        }
        assert!(statuses.contains(&429), "{family:?}: {statuses:?}");
        // A request refused before it is counted (a wrong key) still says the limit.
        let ClientAnswer::Http {
            status, advertised, ..
        } = client("wrong")
            .send_http(&axum::http::Method::POST, None, block(9), MAX_BODY)
            .await
        else {
            panic!()
        };
        assert_eq!(status, 401);
        assert_eq!(advertised.map(|a| a.limit), Some(Some(2)));
        server.shutdown().await;
    }
}
