//! What a run's values are, and the stages that need only that: dedupe, `--shard`, and the
//! chunker that cuts them into request-sized batches.

pub mod batch;
pub mod dedupe;
pub(crate) mod shard;
pub(crate) mod text_batch;
