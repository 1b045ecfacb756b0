//! Transport: one HTTP request to the API's endpoint and its answer, over kept-alive
//! connections. It knows no endpoint's meaning: reading an answer is `api`'s job.

pub mod api_key;
pub mod client;
pub(crate) mod connections;
pub(crate) mod endpoint;
pub mod ratelimit_headers;
