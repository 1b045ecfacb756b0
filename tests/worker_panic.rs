//! A worker that panics must not lose its batch: the pool records it as failed, kind
//! `internal` (the reproduction was a 429 whose Retry-After overflowed the gate's
//! arithmetic; that is capped now, so the panic is provoked here by an operation whose
//! reading of the answer panics for one batch). Runs the real pool against the imitation.

use std::sync::Arc;
use std::time::Duration;

use blockade::api::{HttpCall, Operation, Step};
use blockade::mock::{MockConfig, MockServer};
use blockade::net::api_key::ApiKey;
use blockade::net::client::{Answer, Client};
use blockade::send::concurrency::Concurrency;
use blockade::send::pool::{self, Backoff, BatchStatus, PoolConfig, PoolCounters};
use blockade::values::{Batch, Contact, Origin};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::util::KEY;

/// A block whose answer-reading panics for the batch holding `POISON`.
#[derive(Clone, Debug)]
struct Panicky(Batch<Contact>);

const POISON: u64 = 4242;

impl Operation for Panicky {
    type Request = <Batch<Contact> as Operation>::Request;
    type Done = <Batch<Contact> as Operation>::Done;

    fn prepare(&self, client: &Client) -> Self::Request {
        self.0.prepare(client)
    }

    fn http(request: &Self::Request) -> &HttpCall {
        <Batch<Contact> as Operation>::http(request)
    }

    fn judge(&self, answer: &Answer) -> Step<Self::Done> {
        assert!(
            !self.0.values.contains(&POISON),
            "a bug in reading the answer"
        );
        self.0.judge(answer)
    }

    fn size(&self) -> u64 {
        self.0.size()
    }

    fn split(&self) -> (Self, Self) {
        let (left, right) = self.0.split();
        (Panicky(left), Panicky(right))
    }

    fn seq(&self) -> u64 {
        self.0.seq
    }
}

#[test]
fn a_panicking_worker_records_its_batch_as_failed_internal() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let server = MockServer::start(([127, 0, 0, 1], 0).into(), MockConfig::new(KEY))
            .await
            .expect("start the imitation");
        let url = format!("{}/api/v1/crm/block-visitor", server.base_url())
            .parse()
            .expect("url");
        let key = ApiKey::new(KEY, "the test").expect("key");
        let client = Client::new(url, &key, Duration::from_secs(10), 2).expect("client");
        let config = PoolConfig {
            rate: "100000/s".parse().expect("rate"),
            burst: 100,
            concurrency: Concurrency::Fixed(2),
            max_concurrency: 2,
            max_attempts: 2,
            max_wait: Duration::from_secs(5),
            backoff: Backoff {
                base: Duration::from_millis(1),
                max: Duration::from_millis(5),
            },
            drain_deadline: Duration::from_secs(10),
            gate: Default::default(),
        };
        let till = chrono::Utc::now() + chrono::Duration::days(1);
        let origin = |line| Origin {
            path: Arc::from("panic.csv"),
            line,
        };
        let batches: Vec<Panicky> = [vec![1, 2, 3], vec![4, POISON, 6], vec![7, 8]]
            .into_iter()
            .enumerate()
            .map(|(i, ids)| {
                Panicky(Batch {
                    seq: i as u64 + 1,
                    kind: Contact,
                    block_till: till,
                    first: origin(1),
                    last: origin(ids.len() as u64),
                    values: ids,
                })
            })
            .collect();
        let (batch_tx, batch_rx) = mpsc::channel(4);
        let (outcome_tx, mut outcome_rx) = mpsc::channel(4);
        let collector = tokio::spawn(async move {
            let mut all = Vec::new();
            while let Some(outcome) = outcome_rx.recv().await {
                all.push(outcome);
            }
            all
        });
        batch_tx.send(batches).await.expect("queued");
        drop(batch_tx);
        let end = pool::run(
            client,
            config,
            batch_rx,
            outcome_tx,
            Arc::new(PoolCounters::default()),
            CancellationToken::new(),
        )
        .await;
        let outcomes = collector.await.expect("collector");
        server.shutdown().await;

        assert_eq!(end.ids_not_sent, 0);
        assert_eq!(outcomes.len(), 3, "{outcomes:?}");
        for outcome in &outcomes {
            if outcome.batch.0.values.contains(&POISON) {
                assert_eq!(outcome.status, BatchStatus::Failed, "{outcome:?}");
                assert_eq!(outcome.kind, Some("internal"), "{outcome:?}");
                assert_eq!(
                    outcome.batch.0.values,
                    [4, POISON, 6],
                    "the whole batch is named"
                );
                let error = outcome.error.as_deref().unwrap_or_default();
                assert!(error.contains("a bug in reading the answer"), "{error}");
            } else {
                assert_eq!(outcome.status, BatchStatus::Done, "{outcome:?}");
            }
        }
    });
}
