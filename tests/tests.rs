//! One integration-test binary (fast to link): a module per subject. Every test runs the
//! real `blockade` binary against the real imitation (`blockade mock`) on 127.0.0.1 and
//! checks what the imitation received and what the ledger says.

mod util;

mod block;
mod cli12;
mod errors;
mod goodput;
mod hostile;
mod inputs;
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
mod unblock_types;
mod verify;
mod worker_panic;
