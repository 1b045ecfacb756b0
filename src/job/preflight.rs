//! A dry run's preflight: one read-only request (the first record of the block list)
//! that checks what a real run would meet first: the host's name (DNS), the connection
//! and its certificate, the key and the account. It exits as a real run would: 3 when
//! the key, the account or the certificate is refused, 1 when the host cannot be reached.
//! `--offline` skips the request (the plan then says nothing was checked); `--sandbox`
//! checks the built-in imitation.

use crate::api::Step;
use crate::api::list::ListPage;
use crate::cli::ConnectionArgs;
use crate::exit::ExitStatus;
use crate::send::pool::PoolConfig;

use super::target::connect;

/// What the preflight found.
pub struct Checked {
    /// The plan's target line: what was checked, and how.
    pub line: String,
    /// How a real run would end because of the target, if it could not start.
    pub status: ExitStatus,
}

/// Checks the target with one `GET /crm/block-visitor?offset=0&limit=1`, unless
/// `offline`.
pub async fn preflight(
    connection: &ConnectionArgs,
    pool: &PoolConfig,
    offline: bool,
) -> anyhow::Result<Checked> {
    let connected = connect(connection).await?;
    let name = connected.target.name.clone();
    if offline {
        connected.close().await;
        return Ok(Checked {
            line: format!("{name} (not checked: --offline; a key is there)"),
            status: ExitStatus::Success,
        });
    }
    let client = connected
        .target
        .client(connection.timeout, pool.max_in_flight().min(2))?;
    let page = ListPage {
        offset: 0,
        limit: 1,
    };
    let call = crate::api::Operation::prepare(&page, &client);
    let answer = client.send_call(&call).await;
    let what = if connected.sandbox.is_some() {
        "the built-in imitation"
    } else {
        "the server"
    };
    let (line, status) = match crate::api::Operation::judge(&page, &answer) {
        Step::Done(found) => (
            format!(
                "{name} (checked: {what} answered a read of its block list with the key{}; nothing was changed)",
                found
                    .count
                    .map(|count| format!(", {count} records listed"))
                    .unwrap_or_default()
            ),
            ExitStatus::Success,
        ),
        Step::RateLimited { reason, .. } => (
            format!(
                "{name} (reached, but {what} answered 429, so the key is not checked: {reason})"
            ),
            ExitStatus::Success,
        ),
        Step::Abort { reason } => (
            format!("{name} (refused: {reason}; a real run would stop at once, exit 3)"),
            ExitStatus::Aborted,
        ),
        Step::Retry { reason, .. } => (
            format!("{name} (not reached: {reason}; a real run would stop, exit 1)"),
            ExitStatus::Failed,
        ),
        Step::Failed { reason, .. } | Step::Refused { reason } | Step::Split { reason } => (
            format!(
                "{name} (reached, but the read of its block list failed: {reason}; a real run would likely fail too, exit 1)"
            ),
            ExitStatus::Failed,
        ),
    };
    connected.close().await;
    Ok(Checked { line, status })
}

/// The worse of two statuses, as a dry run reports it (the target's failure wins over a
/// plan that would have worked).
pub fn worse(a: ExitStatus, b: ExitStatus) -> ExitStatus {
    if a == ExitStatus::Success { b } else { a }
}
