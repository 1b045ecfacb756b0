//! `--shard K/N` splits one list across copies with no overlap and no gap, and the
//! shards' ledgers merge in `report`.

use crate::util::*;

#[test]
fn three_shards_block_every_id_exactly_once_and_their_ledgers_merge() {
    let work = Work::new();
    let mut csv = csv_of(1..=3000);
    csv += "not-a-number,bad row\n";
    let input = work.write("all.csv", csv);
    let mock = Mock::start(&[]);
    let mut ledgers = Vec::new();
    let mut per_shard = Vec::new();
    for k in 1..=3 {
        let ledger = work.path(&format!("shard-{k}.jsonl"));
        let mut cmd = work.blockade();
        cmd.args([
            "block",
            "--base-url",
            &mock.url,
            "--block-for",
            "1d",
            "--rate",
            "5000/s",
            "--shard",
        ])
        .arg(format!("{k}/3"))
        .arg("--results")
        .arg(&ledger)
        .env("ACQUIRE_API_KEY", KEY)
        .arg(&input);
        let ran = run(&mut cmd);
        assert_eq!(ran.code, 0, "shard {k}: {}", ran.all());
        assert!(
            ran.stdout.contains("left to the other shards"),
            "{}",
            ran.stdout
        );
        let blocked = ledger_ids(&read_ledger(&ledger), "blocked").len();
        per_shard.push(blocked);
        ledgers.push(ledger);
    }
    // No overlap, no gap: the imitation saw every ID once across the three runs.
    assert_blocked_exactly_once(&mock, 1..=3000);
    // Each took a fair share (a hash, so not exact).
    for blocked in &per_shard {
        assert!((800..=1200).contains(blocked), "shares {per_shard:?}");
    }
    // The bad row is recorded by exactly one shard.
    let rejects: usize = ledgers
        .iter()
        .map(|l| lines_with_status(&read_ledger(l), "rejected").len())
        .sum();
    assert_eq!(rejects, 1);

    let ran = run(work.blockade().args(["report", "--json"]).args(&ledgers));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let report: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(report["now"]["contact"]["blocked"], 3000, "{report:#}");
    assert_eq!(report["now"]["contact"]["failed"], 0, "{report:#}");
}

#[test]
fn auto_concurrency_keeps_enough_in_flight_to_reach_the_rate() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=1200));
    // 40 ms per answer at 200 requests/s needs about 8 in flight (Little's law).
    let mock = Mock::start(&["--latency", "40ms"]);
    let ran = run(work
        .block(
            &mock,
            &[
                "--block-for",
                "1d",
                "--batch-size",
                "10",
                "--rate",
                "200/s",
                "--concurrency",
                "auto",
                "--max-concurrency",
                "32",
            ],
        )
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    assert_blocked_exactly_once(&mock, 1..=1200);
    let in_flight = mock.stats()["max_in_flight"].as_u64().unwrap();
    assert!(
        in_flight > 1,
        "auto concurrency must overlap requests to hide latency, saw {in_flight}"
    );
    assert!(
        in_flight <= 32,
        "never above --max-concurrency, saw {in_flight}"
    );
}

#[test]
fn fixed_concurrency_is_never_exceeded() {
    let work = Work::new();
    let input = work.write("a.csv", csv_of(1..=400));
    let mock = Mock::start(&["--latency", "5ms..20ms"]);
    let ran = run(work
        .block(
            &mock,
            &[
                "--block-for",
                "1d",
                "--batch-size",
                "5",
                "--concurrency",
                "3",
            ],
        )
        .arg(&input));
    assert_eq!(ran.code, 0, "{}", ran.all());
    let in_flight = mock.stats()["max_in_flight"].as_u64().unwrap();
    assert!(
        (1..=3).contains(&in_flight),
        "saw {in_flight} in flight at --concurrency 3"
    );
}
