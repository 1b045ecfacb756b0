//! Running at the account's limit: after a 429 episode the pool comes back to what the
//! server admits, and the summary says what that was.

use serde_json::Value;

use crate::util::*;

/// Runs `--rate 40/s` against an imitation admitting 20/s (`kind`), one ID a request, and
/// checks the second half of the run at the imitation: the pace came back to near the
/// limit instead of staying cut. Whole seconds and 25 % slack: no millisecond timing.
fn recovers_after_a_429_episode(kind: &str) {
    const LIMIT: u64 = 20;
    const REQUESTS: u64 = 200;
    let work = Work::new();
    let input = work.write("in.csv", csv_of(1..=REQUESTS));
    let mock = Mock::start(&["--rate-limit", "20", "--limit-kind", kind]);
    let ran = run(work
        .block(
            &mock,
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
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_blocked_exactly_once(&mock, 1..=REQUESTS);

    let stats = mock.stats();
    let limited = mock.answered(429);
    assert!(limited > 0, "twice the limit must meet a 429: {stats}");
    assert!(
        limited * 20 <= REQUESTS,
        "{limited} 429s for {REQUESTS} requests: one reaction per episode keeps them rare"
    );
    // Arrivals per whole second of the imitation's clock; the last is partial.
    let per_second: Vec<u64> = stats["per_second"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    let whole = &per_second[..per_second.len() - 1];
    // After the first two seconds (the burst that meets the limit, and the pause): a
    // token bucket alternates bursts and pauses, so the mean over every whole second
    // that follows is what must come back to the limit.
    assert!(whole.len() >= 5, "{per_second:?}");
    let settled = &whole[2..];
    let sent: u64 = settled.iter().sum();
    let allowance = LIMIT * settled.len() as u64;
    assert!(
        sent * 4 >= allowance * 3,
        "{sent} requests in {} whole seconds after the first episode, allowance {allowance}: the pace did not recover ({per_second:?})",
        settled.len()
    );
    assert!(
        whole.iter().all(|&n| n <= LIMIT * 2 + 1),
        "never above --rate: {per_second:?}"
    );

    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(work.path("summary.json")).unwrap()).unwrap();
    let admitted = summary["server_admitted_per_second"].as_f64().unwrap();
    assert!((15.0..=25.0).contains(&admitted), "{summary}");
    assert!(
        ran.stdout.contains("the server admitted about") && ran.stdout.contains("consider --rate"),
        "{}",
        ran.stdout
    );
}

#[test]
fn the_pace_recovers_after_a_429_episode_sliding_window() {
    recovers_after_a_429_episode("sliding");
}

#[test]
fn the_pace_recovers_after_a_429_episode_token_bucket() {
    recovers_after_a_429_episode("bucket");
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
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(work.path("summary.json")).unwrap()).unwrap();
    assert!(
        summary.get("server_admitted_per_second").is_none(),
        "{summary}"
    );
}
