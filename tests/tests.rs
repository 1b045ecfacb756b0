//! One integration-test binary (fast to link): a module per subject. Every test runs the
//! real `blockade` binary against the real imitation (`blockade mock`) on 127.0.0.1 and
//! checks what the imitation received and what the ledger says.

mod util;
#[macro_use]
mod scenario;

mod block;
mod cli12;
mod errors;
mod every_kind;
mod goodput;
mod hostile;
mod inputs;
mod ledgers_v01;
mod operator;
mod resilience;
mod shards;
mod sync;
mod tls;
mod transport;
mod truth;
mod types;
mod unblock;
mod unblock_exact;
mod verify;
mod worker_panic;
