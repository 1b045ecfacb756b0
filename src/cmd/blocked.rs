//! `blockade blocked`: export the account's block list as CSV or JSONL, page by page
//! (`listing.rs`, through the pool), in constant memory whatever the list's size.
//!
//! CSV columns `block_id,type,contact_id,value,block_till,date_created,blocked_by`; the
//! file feeds `blockade unblock --id-field contact_id` directly. A file is created only
//! its owner can read (it names customers); `-` is stdout. On a terminal, a progress line
//! on stderr counts pages and records.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::api::list::ListedRecord;
use crate::cli::{BlockedArgs, ExportFormat, LogArgs};
use crate::exit::ExitStatus;
use crate::job::listing;
use crate::job::signals::watch_signals;
use crate::job::target::connect;
use crate::send::pool::Stop;
use crate::ui::progress::Mode;
use crate::ui::summary::group_digits;

pub const CSV_HEADER: [&str; 7] = [
    "block_id",
    "type",
    "contact_id",
    "value",
    "block_till",
    "date_created",
    "blocked_by",
];

pub async fn run(args: BlockedArgs, log: &LogArgs) -> anyhow::Result<ExitStatus> {
    let pool_config = crate::config::pool_config(&args.connection)?;
    let out: Box<dyn Write + Send> = if args.output == Path::new("-") {
        Box::new(std::io::stdout())
    } else {
        Box::new(
            create_private(&args.output)
                .with_context(|| format!("cannot create --output {}", args.output.display()))?,
        )
    };
    let mut writer = Export::new(args.format, out)?;
    let connected = connect(&args.connection).await?;
    let target = &connected.target;
    let client = target.client(args.connection.timeout, pool_config.max_in_flight())?;
    let wanted_type = args.record_type.map(|t| t.as_str());
    let before = args.expiring_before;
    let mut written = 0u64;
    let listed_all = listing::list_all(
        client,
        pool_config,
        args.page_size,
        watch_signals(),
        Mode::for_log(log),
        |records| {
            for record in records {
                if wanted_type.is_some_and(|kind| record.kind != kind)
                    || before.is_some_and(|before| !expires_before(record, before))
                {
                    continue;
                }
                writer.write(record)?;
                written += 1;
            }
            Ok(())
        },
    )
    .await;
    // A closed pipe (`blockade blocked | head`): the reader has what it wanted.
    let end = match listed_all {
        Err(error) if broken_pipe(&error) => return Ok(ExitStatus::Success),
        other => other?,
    };
    match writer.finish() {
        Err(error) if broken_pipe(&error) => return Ok(ExitStatus::Success),
        other => other?,
    }
    connected.close().await;
    let status = match (&end.stop, &end.incomplete) {
        (Some(Stop::Aborted(_)), _) => ExitStatus::Aborted,
        (Some(Stop::Interrupted), _) => crate::exit::interrupted_status(),
        (None, None) => ExitStatus::Success,
        _ => ExitStatus::Failed,
    };
    let mut line = format!(
        "blockade blocked: {}: exported {} of {} ({}, {})",
        if status == ExitStatus::Success {
            "done"
        } else {
            status.word()
        },
        group_digits(written),
        crate::ui::summary::plural(end.records, "block record"),
        crate::ui::summary::plural(end.pages, "page"),
        crate::ui::summary::plural(end.requests, "request"),
    );
    if end.unreadable > 0 {
        line += &format!(
            "; {} records without a usable id left out",
            group_digits(end.unreadable)
        );
    }
    match (&end.stop, &end.incomplete) {
        (Some(Stop::Aborted(reason)), _) => line += &format!("; stopped: {reason}"),
        (_, Some(why)) => line += &format!("; incomplete: {why}"),
        _ => {}
    }
    crate::ui::logging::event(
        "INFO",
        &line,
        serde_json::json!({ "records": end.records, "pages": end.pages, "requests": end.requests, "exported": written }),
    );
    Ok(status)
}

/// Whether writing failed because the reader of stdout went away.
fn broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let io = cause.downcast_ref::<std::io::Error>().or_else(|| {
            match cause.downcast_ref::<csv::Error>().map(csv::Error::kind) {
                Some(csv::ErrorKind::Io(io)) => Some(io),
                _ => None,
            }
        });
        io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Whether the record's block-till is before `before` (a block-till that is not RFC 3339
/// is not known to expire, and is left out).
fn expires_before(record: &ListedRecord, before: DateTime<Utc>) -> bool {
    DateTime::parse_from_rfc3339(&record.block_till).is_ok_and(|till| till < before)
}

/// The output, as CSV or JSON Lines.
enum Export {
    Csv(Box<csv::Writer<Box<dyn Write + Send>>>),
    Jsonl(std::io::BufWriter<Box<dyn Write + Send>>),
}

impl Export {
    fn new(format: ExportFormat, out: Box<dyn Write + Send>) -> anyhow::Result<Export> {
        Ok(match format {
            ExportFormat::Csv => {
                let mut writer = csv::Writer::from_writer(out);
                writer.write_record(CSV_HEADER)?;
                Export::Csv(Box::new(writer))
            }
            ExportFormat::Jsonl => Export::Jsonl(std::io::BufWriter::new(out)),
        })
    }

    fn write(&mut self, record: &ListedRecord) -> anyhow::Result<()> {
        let contact = record.contact.map(|c| c.to_string()).unwrap_or_default();
        match self {
            Export::Csv(writer) => writer.write_record([
                record.id.to_string().as_str(),
                &record.kind,
                &contact,
                &record.value,
                &record.block_till,
                &record.date_created,
                &record.blocked_by,
            ])?,
            Export::Jsonl(out) => {
                let line = serde_json::json!({
                    "block_id": record.id,
                    "type": record.kind,
                    "contact_id": record.contact,
                    "value": record.value,
                    "block_till": record.block_till,
                    "date_created": record.date_created,
                    "blocked_by": record.blocked_by,
                });
                serde_json::to_writer(&mut *out, &line)?;
                out.write_all(b"\n")?;
            }
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        match self {
            Export::Csv(mut writer) => writer.flush()?,
            Export::Jsonl(mut out) => out.flush()?,
        }
        Ok(())
    }
}

/// A new file only its owner can read.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}
