//! What a run's values are, and the stages that need only that: the kind of value
//! (contact IDs or strings, `kind.rs`), their normal forms (`id.rs`, `text.rs`), dedupe,
//! `--shard`, the chunker that cuts rows into request-sized batches, and the spool where
//! values to unblock wait.

pub mod batch;
pub mod count;
pub mod dedupe;
pub mod id;
pub mod kind;
pub mod sets;
pub(crate) mod shard;
pub mod spool;
pub mod text;

pub use batch::{Batch, Chunker, Origin, Row};
pub(crate) use kind::with_kind;
pub use kind::{Contact, Kind, Text, ValueType, Values};
