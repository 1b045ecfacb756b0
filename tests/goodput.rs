//! Running at the account's limit, checked by counting at the imitation (no timing: how
//! close to the limit a run gets is `benches/goodput.rs`'s business):
//! - a 429 episode is reacted to once, the pace never goes above `--rate`, and the summary
//!   says what the server admitted;
//! - a server that advertises its limit (each header family) is never made to refuse;
//! - a request waiting out its retry backoff gives its place in flight back.

use serde_json::Value;

use crate::util::*;

/// `block` of `input` at `--rate 40/s`, one ID a request, with its `summary.json`.
fn block_one_id_a_request_at_40(work: &Work, mock: &Mock, input: &std::path::Path) -> Ran {
    run(work
        .block(
            mock,
            &[
                "--block-for",
                "1d",
                "--batch-size",
                "1",
                "--rate",
                "40/s",
                "--summary-json",
                "summary.json",
            ],
        )
        .arg(input))
}

/// `--rate 40/s` against an imitation admitting 20/s (`kind`), one ID a request.
fn reacts_once_per_episode(kind: &str) {
    const LIMIT: u64 = 20;
    const REQUESTS: u64 = 100;
    let work = Work::new();
    let input = work.write("in.csv", csv_of(1..=REQUESTS));
    let mock = Mock::start(&["--rate-limit", "20", "--limit-kind", kind]);
    let ran = block_one_id_a_request_at_40(&work, &mock, &input);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_blocked_exactly_once(&mock, 1..=REQUESTS);

    let stats = mock.stats();
    let limited = mock.answered(429);
    assert!(limited > 0, "twice the limit must meet a 429: {stats}");
    assert!(
        limited * 20 <= REQUESTS,
        "{limited} 429s for {REQUESTS} requests: one reaction per episode keeps them rare"
    );
    // Arrivals per whole second of the imitation's clock: never above --rate.
    let per_second: Vec<u64> = stats["per_second"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert!(
        per_second.iter().all(|&n| n <= LIMIT * 2 + 1),
        "never above --rate: {per_second:?}"
    );

    let summary = work.summary("summary.json");
    let admitted = summary["server_admitted_per_second"].as_f64().unwrap();
    assert!((15.0..=25.0).contains(&admitted), "{summary}");
    let plus_minus = summary["server_admitted_plus_minus"].as_f64().unwrap();
    assert!(plus_minus > 0.0 && plus_minus < admitted, "{summary}");
    let episodes = summary["rate_limit_episodes"].as_u64().unwrap();
    assert!(
        (1..=limited).contains(&episodes),
        "{episodes} episodes for {limited} 429s: {summary}"
    );
    assert!(
        ran.stdout.contains("the server admitted about") && ran.stdout.contains("consider --rate"),
        "{}",
        ran.stdout
    );
    let episodes_said = if episodes == 1 {
        "(1 429 episode)".to_owned()
    } else {
        format!("({episodes} 429 episodes)")
    };
    assert!(ran.stdout.contains(&episodes_said), "{}", ran.stdout);

    // The ledger has a line per episode, and its 429s are the imitation's.
    let ledger = work.ledger();
    let pauses = lines_with_status(&ledger, "rate_limited");
    assert_eq!(pauses.len() as u64, episodes, "{pauses:?}");
    let answers: u64 = pauses.iter().map(|p| p["answers"].as_u64().unwrap()).sum();
    assert_eq!(answers, limited, "{pauses:?}");
    assert!(
        pauses.iter().all(|p| p["wait_ms"].as_u64().unwrap() >= 900),
        "each pause waits out the Retry-After of 1 s: {pauses:?}"
    );
    assert!(lines_with_status(&ledger, "stopped").is_empty());

    // The picture shades them where they happened.
    let page = run(work
        .blockade()
        .args(["report", "--html", "run.html"])
        .arg(work.ledger_path()));
    assert_eq!(page.code, 0, "{}", page.all());
    let html = std::fs::read_to_string(work.path("run.html")).unwrap();
    let open = r#"<script type="application/json" id="blockade-series">"#;
    let series = &html[html.find(open).unwrap() + open.len()..];
    let series: Value = serde_json::from_str(&series[..series.find("</script>").unwrap()]).unwrap();
    assert_eq!(
        series["episodes"].as_array().unwrap().len() as u64,
        episodes,
        "{}",
        series["episodes"]
    );
}

#[test]
fn a_429_episode_is_reacted_to_once_sliding_window() {
    reacts_once_per_episode("sliding");
}

#[test]
fn a_429_episode_is_reacted_to_once_token_bucket() {
    reacts_once_per_episode("bucket");
}

#[test]
fn without_429s_the_summary_says_nothing_about_a_limit() {
    let work = Work::new();
    let input = work.write("in.csv", csv_of(1..=20));
    let mock = Mock::start(&[]);
    let ran = run(work
        .block(
            &mock,
            &["--block-for", "1d", "--summary-json", "summary.json"],
        )
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert!(!ran.stdout.contains("admitted about"), "{}", ran.stdout);
    let summary = work.summary("summary.json");
    assert!(
        summary.get("server_admitted_per_second").is_none(),
        "{summary}"
    );
}

/// Twice the limit asked, against a fixed window of 20 per second that says so in
/// `family`'s headers: the budget of each window is never overspent.
fn an_advertised_limit_is_never_overspent(family: &str) {
    const REQUESTS: u64 = 50;
    let work = Work::new();
    let input = work.write("in.csv", csv_of(1..=REQUESTS));
    let mock = Mock::start(&[
        "--rate-limit",
        "20",
        "--limit-kind",
        "fixed",
        "--ratelimit-headers",
        family,
    ]);
    let ran = block_one_id_a_request_at_40(&work, &mock, &input);
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_blocked_exactly_once(&mock, 1..=REQUESTS);
    assert_eq!(
        mock.answered(429),
        0,
        "{family}: refused although the headers said how much was left: {}",
        mock.stats()
    );
    // The summary says what was advertised, in the text and in the JSON alike.
    let summary = work.summary("summary.json");
    let advertised = &summary["server_advertised"];
    assert_eq!(advertised["limit"], 20, "{summary}");
    let headers = match family {
        "github" => "X-RateLimit-*",
        "draft" => "RateLimit-*",
        _ => "RateLimit-Policy",
    };
    assert_eq!(advertised["headers"], headers, "{summary}");
    assert!(
        ran.stdout.contains("limit     20 requests per")
            && ran
                .stdout
                .contains(&format!("advertised in {headers} headers")),
        "{}",
        ran.stdout
    );
}

#[test]
fn an_advertised_limit_is_never_overspent_github() {
    an_advertised_limit_is_never_overspent("github");
}

#[test]
fn an_advertised_limit_is_never_overspent_draft() {
    an_advertised_limit_is_never_overspent("draft");
}

#[test]
fn an_advertised_limit_is_never_overspent_policy() {
    an_advertised_limit_is_never_overspent("policy");
}

#[test]
fn a_request_waiting_out_its_backoff_gives_its_place_in_flight_back() {
    // One place in flight, one ID a request, and a server failing half its answers: while
    // one request waits to be retried, others are sent. Each ledger line spans its first
    // attempt to its last answer, so with the place held through the backoff no two lines
    // could overlap; given back, they do. Every ID still ends blocked, once.
    let mock = Mock::start(&["--fail-rate", "0.5", "--seed", "18"]);
    let work = Work::new();
    let input = work.write("in.csv", csv_of(1..=40));
    let ran = run(work
        .block(
            &mock,
            &[
                "--block-for",
                "7d",
                "-q",
                "--max-attempts",
                "30",
                "--batch-size",
                "1",
                "--concurrency",
                "1",
            ],
        )
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_blocked_exactly_once(&mock, 1..=40);
    let lines = work.ledger();
    assert_eq!(lines.len(), 40);
    assert!(lines.iter().all(|line| line["status"] == "blocked"));
    let mut spans: Vec<(String, String)> = lines
        .iter()
        .map(|line| {
            (
                line["started_at"].as_str().unwrap().to_owned(),
                line["finished_at"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    spans.sort();
    let overlapping = spans
        .windows(2)
        .filter(|pair| pair[1].0 < pair[0].1)
        .count();
    assert!(
        overlapping > 0,
        "at one place in flight, requests interleave only if a backoff gives the place back"
    );
}
