//! `blockade retry`: re-send the IDs whose latest outcome in a ledger is failed.
//!
//! IDs keep the block-till they failed with (`--block-till`/`--block-for` override it); a
//! block-till already in the past is skipped with a warning unless overridden. Outcomes are
//! appended to the same ledger (or `--results`), so the latest line per ID stays the truth.

use std::sync::Arc;

use chrono::Utc;

use crate::batch::Chunker;
use crate::cli::{LogArgs, RetryArgs};
use crate::cmd::{self, SendJob};
use crate::config;
use crate::counters::Counters;
use crate::exit::ExitStatus;
use crate::input::{Origin, Row};
use crate::ledger::{LatestStatus, LedgerWriter};
use crate::pipeline::{self, Sink};

pub async fn run(args: RetryArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    let now = Utc::now();
    let override_till = config::block_till(&args.till, now)?;
    let pool_config = config::pool_config(&args.connection)?;
    let results = args.results.clone().unwrap_or_else(|| args.ledger.clone());
    let connected = cmd::connect(&args.connection).await?;
    // Lock before reading, so no other run appends between the read and the retry.
    let ledger = LedgerWriter::open(&results)?;
    let (latest, stats) = LatestStatus::load(&args.ledger)?;
    if stats.bad_line_count > 0 {
        tracing::warn!(
            unreadable_lines = stats.bad_line_count,
            "Some ledger lines could not be read and were skipped"
        );
    }

    let counters = Arc::new(Counters::default());
    let mut groups = Vec::new();
    for (till, ids) in latest.failed_by_block_till() {
        let till = match override_till {
            Some(new_till) => new_till,
            None if till <= now => {
                tracing::warn!(block_till = %till, ids = ids.len(), "Skipping failed IDs whose block-till is already past; give --block-for or --block-till to send them");
                Counters::add(&counters.not_sent, ids.len());
                continue;
            }
            None => till,
        };
        groups.push((till, ids));
    }
    let expected: u64 = groups.iter().map(|(_, ids)| ids.len()).sum();
    tracing::info!(
        ids = expected,
        "Re-sending the IDs whose latest outcome is failed"
    );

    let job = SendJob {
        command: "retry",
        connected,
        connection: &args.connection,
        pool: pool_config,
        ledger,
        results: &results,
        expected_rows: Some(expected),
        summary_json: args.summary_json.as_deref(),
        log,
    };
    let batch_size = args.batch_size as usize;
    let origin_path: Arc<str> = Arc::from(format!("retry of {}", args.ledger.display()));
    let reader_counters = counters.clone();
    cmd::send(job, counters, move |sink| {
        let mut chunker = Chunker::new(batch_size);
        let mut line = 0u64;
        'groups: for (till, ids) in groups {
            for id in ids {
                if sink.stopping() {
                    break 'groups;
                }
                line += 1;
                Counters::add(&reader_counters.rows, 1);
                let row = Row {
                    id,
                    block_till: till,
                    origin: Origin {
                        path: origin_path.clone(),
                        line,
                    },
                };
                if let Some(batch) = chunker.push(row)
                    && !sink.batch(batch)
                {
                    break 'groups;
                }
            }
        }
        pipeline::flush(&mut chunker, &reader_counters, sink);
    })
    .await
}
