//! The imitation's routes: the API's block-visitor calls (`records.rs`), the admin calls
//! that change the account behind the client's back (`admin.rs`), and its own stats and
//! health. The top of the imitation: nothing in it imports this file but `mod.rs`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};

use super::admin;
use super::endpoint::{self, BLOCK_PATH, MockState, error_answer, json_bytes};
use super::records;
use super::stats::Stats;

pub(crate) fn router(state: Arc<MockState>) -> Router {
    let mut api = Router::new()
        .route(
            BLOCK_PATH,
            post(records::block_visitor)
                .get(records::list)
                .delete(records::delete),
        )
        .route(records::RECORD_PATH, get(records::get_one));
    if state.faults().ratelimit_headers.is_some() {
        // Only the API's routes advertise the limit; the imitation's own do not count.
        api = api.route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            endpoint::advertise,
        ));
    }
    api.route("/_mock/stats", get(stats))
        .route("/_mock/health", get(health))
        .route("/_mock/records", get(admin::list_records))
        .route("/_mock/seed", post(admin::add_seeds))
        .route("/_mock/unblock", post(admin::unblock))
        .route("/_mock/expire", post(admin::expire))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(state)
}

async fn stats(State(state): State<Arc<MockState>>) -> axum::Json<Stats> {
    axum::Json(state.snapshot())
}

async fn health() -> Response {
    json_bytes(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#))
}

async fn not_found(method: Method, uri: Uri) -> Response {
    let message = format!(
        "no route for {method} {}; the mock serves POST, GET and DELETE {BLOCK_PATH}, GET {BLOCK_PATH}/{{id}}, GET /_mock/stats, GET /_mock/health, GET /_mock/records, POST /_mock/seed, /_mock/unblock and /_mock/expire",
        uri.path()
    );
    error_answer(StatusCode::NOT_FOUND, "ERROR_NOT_FOUND", &message).1
}
