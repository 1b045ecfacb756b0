//! The send engine: the rate gate, the in-flight bound, the worker pool with its retries,
//! 429 pauses and circuit breaker, and the pipeline that wires a producer, the pool and the
//! ledger's single writer. Generic over `api::Operation`: it knows no operation.

pub(crate) mod breaker;
pub mod concurrency;
pub(crate) mod counters;
pub(crate) mod gate;
pub(crate) mod pipeline;
pub mod pool;
pub(crate) mod rate;
