//! Every file in `fixtures/bad/` against the real binary: the expected `rejected` lines
//! (origin and reason), the valid rows still blocked, and exit 2 for the files that cannot
//! be used at all. The expectations live in `fixtures/bad/expected.json`, which the
//! readers' unit tests also check.

use serde_json::Value;

use crate::util::*;

#[test]
fn every_bad_fixture_gives_its_rejects_and_still_blocks_the_valid_rows() {
    let bad = root().join("fixtures/bad");
    let expected: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(bad.join("expected.json")).unwrap()).unwrap();
    assert!(expected.len() >= 8, "the corpus covers every reject reason");
    for case in expected {
        let file = case["file"].as_str().unwrap();
        let path = bad.join(file);
        let work = Work::new();
        let mock = Mock::start(&[]);
        let options = &case["options"];
        let mut cmd = work.block(&mock, &[]);
        match options["default_block_till"].as_str() {
            Some(till) => cmd.args(["--block-till", till]),
            None if options.get("default_block_till").is_some() => &mut cmd,
            None => cmd.args(["--block-for", "1d"]),
        };
        if let Some(field) = options["block_till_field"].as_str() {
            cmd.args(["--block-till-field", field]);
        }
        if let Some(delimiter) = options["delimiter"].as_str() {
            cmd.args(["--delimiter", delimiter]);
        }
        let ran = run(cmd.arg(&path));

        if let Some(error) = case["open_error"].as_str() {
            assert_eq!(ran.code, 2, "{file}: {}", ran.all());
            assert!(
                ran.stderr.to_lowercase().contains(&error.to_lowercase()),
                "{file}: expected {error:?} in {}",
                ran.stderr
            );
            assert_eq!(mock.requests(), 0, "{file}: nothing sent");
            continue;
        }

        let valid: Vec<u64> = case["valid_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_blocked_exactly_once(&mock, valid.iter().copied());
        let ledger = work.ledger();
        let rejects = lines_with_status(&ledger, "rejected");
        let expected_rejects = case["rejects"].as_array().unwrap();
        let broken = &case["broken"];
        if !broken.is_null() {
            let origin = format!("{}:{}", path.display(), broken["line"]);
            let reason = broken["reason_contains"].as_str().unwrap();
            assert!(
                rejects.iter().any(|r| r["source"] == origin.as_str()
                    && r["error"].as_str().unwrap().contains(reason)),
                "{file}: no line saying the input broke off at {origin}: {rejects:#?}"
            );
        }
        let broken = !broken.is_null();
        assert_eq!(
            rejects.len(),
            expected_rejects.len() + usize::from(broken),
            "{file}: rejected lines {rejects:#?}"
        );
        for want in expected_rejects {
            let origin = format!("{}:{}", path.display(), want["line"]);
            let reason = want["reason_contains"].as_str().unwrap().to_lowercase();
            let found = rejects.iter().any(|r| {
                r["source"] == origin.as_str()
                    && r["error"]
                        .as_str()
                        .unwrap()
                        .to_lowercase()
                        .contains(&reason)
            });
            assert!(
                found,
                "{file}: no rejected line at {origin} with {reason:?} in {rejects:#?}"
            );
        }
        // No valid ID at all is an input error; a broken input leaves rows unread.
        let expected_code = if valid.is_empty() {
            2
        } else if broken {
            1
        } else {
            0
        };
        assert_eq!(ran.code, expected_code, "{file}: {}", ran.all());
    }
}
