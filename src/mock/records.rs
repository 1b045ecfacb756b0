//! The block list's routes: a block that keeps records, `GET /api/v1/crm/block-visitor`
//! (list), `GET /api/v1/crm/block-visitor/{id}` and `DELETE /api/v1/crm/block-visitor?id=N`,
//! shaped like Acquire's settings → security → block visitor pages.
//!
//! Constraint: the docs show no error body, so errors keep the imitation's
//! `{"error": {"code", "message"}}`; they put `ERROR_RECORD_NOT_FOUND` under 400, so an
//! unknown record id is a 400, not a 404 (which clients take as "wrong account"). The get
//! page's record has no `user`; the list's and the block's do: both as documented.
//! `blockTill` is kept and answered in the docs' form (RFC 3339, UTC, milliseconds),
//! whatever RFC 3339 form the block sent; a record stays listed after it has passed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::blocklist::{
    AnswerMode, BLOCK_BY, BlockList, Blocked, Duplicate, Kind, RecordView, Values, lock,
};
use super::endpoint::{
    self, BLOCK_PATH, BlockRequest, InvalidBody, MAX_BODY_BYTES, MockState, NOT_BLOCKED_BODY,
    ODD_BODY, RequestData, blocked_true, error_answer, json_bytes, parse_block_request,
    query_params, record_blocked,
};
use super::stats::{Call, Route};
use super::text::quoted;

/// The path of one record, as the router spells it.
pub(crate) const RECORD_PATH: &str = "/api/v1/crm/block-visitor/{id}";
/// Records per list page when `limit` is not given.
pub(crate) const DEFAULT_LIMIT: usize = 100;
/// The most records one list page holds, whatever `limit` asks.
pub(crate) const MAX_LIMIT: usize = 1000;

/// `POST /api/v1/crm/block-visitor`: the block.
pub(crate) async fn block_visitor(
    State(state): State<Arc<MockState>>,
    request: Request,
) -> Response {
    let sequence = state.stats.on_arrival();
    let _in_flight = state.stats.enter();
    let (status, response) = answer_block(&state, sequence, request).await;
    state.stats.record_route_status(Route::Block, status);
    response
}

/// Runs the checks in contract order; returns the status to count (0 = dropped) and the
/// response.
async fn answer_block(state: &MockState, sequence: u64, request: Request) -> (u16, Response) {
    let (parts, body) = request.into_parts();
    let plan = match endpoint::admit(state, sequence, &parts.headers) {
        Ok(plan) => plan,
        Err(answer) => return answer,
    };
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(error) => {
            let why = InvalidBody::Unreadable(error.to_string());
            return error_answer(StatusCode::BAD_REQUEST, "ERROR_INVALID_INPUT", &why);
        }
    };
    let request = match parse_block_request(&bytes, &state.faults().poison) {
        Ok(request) => request,
        Err(why) => return error_answer(StatusCode::BAD_REQUEST, "ERROR_INVALID_INPUT", &why),
    };
    if let Err(answer) = endpoint::after_checks(&plan).await {
        return answer;
    }
    if plan.answer_false {
        return (
            200,
            json_bytes(StatusCode::OK, Bytes::from_static(NOT_BLOCKED_BODY)),
        );
    }
    if plan.answer_odd {
        return (
            200,
            json_bytes(StatusCode::OK, Bytes::from_static(ODD_BODY)),
        );
    }
    if let Some(list) = &state.block_list {
        return block(state, list, &request);
    }
    if !endpoint::claim_success(state) {
        return endpoint::revoked(state);
    }
    record_blocked(&state.stats, &request);
    (200, blocked_true())
}

/// The end of a block when the list is kept: duplicates, then the revocation count,
/// then the records, then the answer `--answer` asks for.
pub(crate) fn block(
    state: &MockState,
    list: &Mutex<BlockList>,
    block: &BlockRequest<'_>,
) -> (u16, Response) {
    let options = &state.faults().block_list;
    let texts: Vec<&str>;
    let (kind, values) = match &block.data {
        RequestData::Contacts(ids) => (Kind::Contact, Values::Contacts(ids)),
        RequestData::Texts(kind, strings) => {
            texts = strings.iter().map(AsRef::as_ref).collect();
            (*kind, Values::Texts(*kind, &texts))
        }
    };
    // Checked by `parse_block_request`; kept to the millisecond, in UTC.
    let till_ms = chrono::DateTime::parse_from_rfc3339(&block.block_till)
        .map_or(0, |till| till.timestamp_millis());
    let till_ms = options.block_till_rounding.apply(till_ms);
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut list = lock(list);
    if let Err(duplicate) = list.check(values, now_ms, options) {
        list.count_refused();
        return duplicate_answer(kind, &duplicate);
    }
    if !endpoint::claim_success(state) {
        return endpoint::revoked(state);
    }
    let ids = match list.block(values, till_ms, now_ms, options) {
        Ok(ids) => ids,
        Err(duplicate) => {
            list.count_refused();
            return duplicate_answer(kind, &duplicate);
        }
    };
    endpoint::record_blocked(&state.stats, block);
    match options.answer {
        AnswerMode::True => (200, endpoint::blocked_true()),
        AnswerMode::Records => {
            // Each record once, in the order of its first value.
            let mut seen = std::collections::HashSet::with_capacity(ids.len());
            let records: Vec<Value> = ids
                .iter()
                .filter(|&&id| seen.insert(id))
                .filter_map(|&id| list.get(id))
                .map(|record| record_json(&record, true))
                .collect();
            (200, json_answer(&json!({ "data": records })))
        }
    }
}

/// 400 `ERROR_DUPLICATE_RECORD_FOUND`, naming the value, its place and its record.
fn duplicate_answer(kind: Kind, duplicate: &Duplicate) -> (u16, Response) {
    let value = match kind {
        Kind::Contact => duplicate.value.clone(),
        _ => quoted(&duplicate.value),
    };
    let what = match duplicate.record {
        Some(record) if duplicate.expired => {
            format!("already has block record {record} (expired, still listed)")
        }
        Some(record) => format!("is already blocked (block record {record})"),
        None => "appears twice in this request".to_owned(),
    };
    let message = format!(
        "{} {value} (data[{}]) {what}; nothing in this request was blocked",
        kind.as_str(),
        duplicate.index
    );
    error_answer(
        StatusCode::BAD_REQUEST,
        "ERROR_DUPLICATE_RECORD_FOUND",
        &message,
    )
}

/// A record as the docs print it; `with_user` adds the blocking user (list and block
/// answers have it, the get page does not).
fn record_json(record: &RecordView<'_>, with_user: bool) -> Value {
    let data = match record.blocked {
        Blocked::Contact(id) => json!({ "id": id, "ip": "", "email": "", "phone": "" }),
        Blocked::Texts(texts) => json!(texts),
    };
    let created = super::blocklist::format_ms(record.created_ms);
    let mut value = json!({
        "id": record.id,
        "type": record.kind.as_str(),
        "data": data,
        "blockTill": record.block_till,
        "dateCreated": created,
        "blockBy": record.block_by,
    });
    if with_user && let Some(object) = value.as_object_mut() {
        let (name, email) = if record.block_by == BLOCK_BY {
            (
                "Mock API user".to_owned(),
                "api-user@example.com".to_owned(),
            )
        } else {
            (
                format!("Mock web-app user {}", record.block_by),
                format!("user-{}@example.com", record.block_by),
            )
        };
        object.insert(
            "user".to_owned(),
            json!({
                "id": record.block_by,
                "type": "user",
                "name": name,
                "firstName": name,
                "lastName": "",
                "email": email,
                "photo": "",
            }),
        );
    }
    value
}

fn json_answer(value: &Value) -> Response {
    json_bytes(StatusCode::OK, Bytes::from(value.to_string()))
}

fn invalid_input(message: &str) -> (u16, Response) {
    error_answer(StatusCode::BAD_REQUEST, "ERROR_INVALID_INPUT", &message)
}

/// The 404 that says how to get a block list.
fn no_list() -> (u16, Response) {
    error_answer(
        StatusCode::NOT_FOUND,
        "ERROR_NOT_FOUND",
        &"this imitation keeps no block list: start it with --block-list (or --record-ids, --answer records, --on-duplicate 400, --list-ignores-offset)",
    )
}

/// A non-negative integer query parameter, or `default` when absent.
fn number_param(
    params: &HashMap<String, String>,
    name: &str,
    default: usize,
) -> Result<usize, String> {
    match params.get(name) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("`{name}` {} is not a non-negative integer", quoted(text))),
    }
}

/// `GET /api/v1/crm/block-visitor?offset=&limit=`: one page of live records in id order.
/// `where`, `select`, `order` and `relations` are accepted and ignored.
pub(crate) async fn list(state: State<Arc<MockState>>, headers: HeaderMap, uri: Uri) -> Response {
    serve(Call::List, state, headers, uri).await
}

#[allow(clippy::result_large_err)] // an error is an answer like any other, sent once
fn answer_list(state: &MockState, list: &Mutex<BlockList>, uri: &Uri) -> Answer {
    let params = query_params(uri).map_err(|why| invalid_input(&why))?;
    let mut offset = number_param(&params, "offset", 0).map_err(|why| invalid_input(&why))?;
    let limit = number_param(&params, "limit", DEFAULT_LIMIT).map_err(|why| invalid_input(&why))?;
    if limit == 0 {
        return Err(invalid_input("`limit` is 0; ask for at least one record"));
    }
    let limit = limit.min(MAX_LIMIT);
    if state.faults().block_list.list_ignores_offset {
        offset = 0;
    }
    if !endpoint::claim_success(state) {
        return Err(endpoint::revoked(state));
    }
    let mut list = lock(list);
    let (count, page) = list.page(offset, limit);
    let records: Vec<Value> = page.iter().map(|r| record_json(r, true)).collect();
    let body = json!({ "data": { "offset": offset, "count": count, "data": records } });
    Ok((200, json_answer(&body)))
}

/// The answer to a list, get or delete call: its status and response, a success or a
/// fault alike.
type Answer = Result<(u16, Response), (u16, Response)>;

/// A list, get or delete call: counted, then checked as every call is (key, faults), then
/// answered from the block list; its status is counted in the stats.
async fn serve(
    call: Call,
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let sequence = state.stats.on_call(call);
    let answer = async {
        endpoint::answer_prelude(&state, sequence, &headers).await?;
        let list = state.block_list.as_ref().ok_or_else(no_list)?;
        match call {
            Call::List => answer_list(&state, list, &uri),
            Call::Get => answer_get(&state, list, &uri),
            Call::Delete => answer_delete(&state, list, &uri),
        }
    };
    let (status, response) = match answer.await {
        Ok(answer) | Err(answer) => answer,
    };
    state.stats.record_route_status(Route::from(call), status);
    response
}

/// `GET /api/v1/crm/block-visitor/{id}`: one record, or 400 `ERROR_RECORD_NOT_FOUND`.
pub(crate) async fn get_one(
    state: State<Arc<MockState>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    serve(Call::Get, state, headers, uri).await
}

#[allow(clippy::result_large_err)] // an error is an answer like any other, sent once
fn answer_get(state: &MockState, list: &Mutex<BlockList>, uri: &Uri) -> Answer {
    let text = uri
        .path()
        .strip_prefix(BLOCK_PATH)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or_default();
    let Ok(id) = text.parse::<u64>() else {
        return Err(invalid_input(&format!(
            "block record id {} is not a positive integer",
            quoted(text)
        )));
    };
    let list = lock(list);
    let Some(record) = list.get(id) else {
        return Err(error_answer(
            StatusCode::BAD_REQUEST,
            "ERROR_RECORD_NOT_FOUND",
            &format!("no block record {id}; list them with GET {BLOCK_PATH}"),
        ));
    };
    let body = json!({ "data": record_json(&record, false) });
    drop(list);
    if !endpoint::claim_success(state) {
        return Err(endpoint::revoked(state));
    }
    Ok((200, json_answer(&body)))
}

/// `DELETE /api/v1/crm/block-visitor?id=N`: `affected` 1 when the record was deleted
/// (all its values unblocked), 0 when there was none (a 200 either way, as documented).
pub(crate) async fn delete(state: State<Arc<MockState>>, headers: HeaderMap, uri: Uri) -> Response {
    serve(Call::Delete, state, headers, uri).await
}

#[allow(clippy::result_large_err)] // an error is an answer like any other, sent once
fn answer_delete(state: &MockState, list: &Mutex<BlockList>, uri: &Uri) -> Answer {
    let params = query_params(uri).map_err(|why| invalid_input(&why))?;
    let Some(text) = params.get("id") else {
        return Err(invalid_input(
            "`id` is missing; send DELETE ...?id=N with a block record id",
        ));
    };
    let Ok(id) = text.trim().parse::<u64>() else {
        return Err(invalid_input(&format!(
            "`id` {} is not a positive integer",
            quoted(text)
        )));
    };
    if !endpoint::claim_success(state) {
        return Err(endpoint::revoked(state));
    }
    let affected = u64::from(lock(list).delete(id));
    let body = json!({ "data": { "deleted": {
        "raw": {
            "fieldCount": 0,
            "affectedRows": affected,
            "insertId": 0,
            "serverStatus": 2,
            "warningCount": 0,
            "message": "",
            "protocol41": true,
            "changedRows": 0,
            "parse": {},
            "write": {},
        },
        "affected": affected,
    } } });
    Ok((200, json_answer(&body)))
}
