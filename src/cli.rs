//! The command line, as clap structs and value parsers only.
//!
//! Nothing here does I/O: `config.rs` turns these raw values into checked objects in one
//! fallible step, so every usage error is found before the first request (exit 2).

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::input::Format;
use crate::input::reject_limit::RejectLimit;
use crate::mock::{AnswerMode, OnDuplicate, SeedRange, TillRounding};
use crate::send::concurrency::Concurrency;
use crate::send::rate::Rate;
use crate::values::ValueType;
use crate::values::shard::Shard;

const ABOUT: &str = "Block contacts in Acquire in bulk.

Streams contact IDs from CSV or JSONL files (or stdin, or gzip), groups them into \
request-sized batches, sends them through a rate-limited concurrent pool to Acquire's \
block endpoint, and appends every batch's outcome to a results ledger (JSON Lines) that \
drives resuming, retrying and reporting.";

const EXAMPLES: &str = "\
Examples:
  Try it against the built-in imitation (no key needed):
    blockade block fixtures/contacts.csv --block-for 7d --sandbox

  Block a list for 30 days:
    ACQUIRE_API_KEY=... blockade block --account acme --block-for 30d \\
        abusers.csv more.jsonl.gz

  Block a plain list, one ID per line, from a pipe:
    some-export | blockade block --no-header --account acme --block-for 7d

  Keep a list blocked, nightly (block, renew, unblock what left it), then check:
    blockade sync --account acme --block-for 30d --prune abusers.csv
    blockade verify --account acme

  Re-send what failed, then summarize:
    blockade retry blockade-results.jsonl --account acme
    blockade report blockade-results.jsonl

  Undo a run, and export what is still blocked:
    blockade unblock --from-ledger blockade-results.jsonl --run RUN --account acme
    blockade blocked --account acme --output blocked.csv

Exit codes:
  0    all blocked
  1    some IDs failed or were refused, or the run stopped early (server
       unreachable, a 429 wait beyond --max-wait)
  2    usage, configuration or input error, or no valid ID (nothing sent)
  3    aborted: credentials or account refused, or the server's certificate
       not trusted
  70   internal error: the counts did not add up (a bug)
  130  interrupted by SIGINT (143 by SIGTERM)

Statuses in the ledger: blocked (\"already\": true when it was), failed
(retry re-sends), refused (the server refused that ID by name; retry skips it
unless --include-refused), rejected (a bad input row, with file:line).";

#[derive(Debug, Parser)]
#[command(name = "blockade", version, about = ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Block every contact ID in the inputs.
    #[command(after_help = BLOCK_EXAMPLES)]
    Block(BlockArgs),
    /// Re-send the IDs whose latest outcome in a results ledger is failed.
    #[command(after_help = RETRY_EXAMPLES)]
    Retry(RetryArgs),
    /// Unblock the contacts listed, or undo what a ledger (a run) blocked.
    #[command(after_help = UNBLOCK_EXAMPLES)]
    Unblock(UnblockArgs),
    /// Make the account hold a lasting block on every value listed: block, renew what is
    /// about to end, and (--prune) unblock what earlier syncs blocked and the list no
    /// longer names.
    #[command(after_help = SYNC_EXAMPLES)]
    Sync(SyncArgs),
    /// Compare the account with what the ledger says is blocked (read-only).
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Export the account's block list (CSV or JSONL), in constant memory.
    #[command(after_help = BLOCKED_EXAMPLES)]
    Blocked(BlockedArgs),
    /// Summarize one or more results ledgers.
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// Serve a local imitation of the Acquire endpoint, with fault injection.
    #[command(after_help = MOCK_EXAMPLES)]
    Mock(MockArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell to generate for.
        shell: clap_complete::Shell,
    },
}

const BLOCK_EXAMPLES: &str = "\
Examples:
  blockade block fixtures/contacts.csv --block-for 7d --sandbox
  ACQUIRE_API_KEY=... blockade block --account acme --block-for 30d \\
      lists/abusers.csv
  curl -s https://example.org/abuse.csv \\
      | blockade block --format csv --account acme --block-for 7d
  blockade block --no-header ids.txt --account acme --block-for 7d
  blockade block --block-till-field until --account acme \\
      --api-key-file ~/.acquire-key list.jsonl
  blockade block --dry-run --block-for 30d big.csv.gz   # plan only";

const RETRY_EXAMPLES: &str = "\
Examples:
  blockade retry blockade-results.jsonl --account acme
  blockade retry --account acme --block-for 30d   # new block-till
  blockade retry --sandbox                        # the sandbox's own ledger
  blockade retry blockade-results.jsonl --account acme --dry-run";

const UNBLOCK_EXAMPLES: &str = "\
Examples:
  Undo one run (its run id is in the summary and in the ledger's run lines):
    blockade unblock --from-ledger blockade-results.jsonl --run 20261124T142001Z-4f2a --account acme
  Undo everything a ledger blocked, first as a preflight (lists, deletes nothing):
    blockade unblock --from-ledger blockade-results.jsonl --account acme --dry-run
  Unblock the contacts in a list (their block records are found by listing):
    blockade unblock wrongly-blocked.csv --account acme
  Pick up an interrupted unblock:
    blockade unblock --from-ledger blockade-results.jsonl --run RUN --account acme --resume
  Unblock emails (or IPs: --type ip) from a list, one per line:
    blockade unblock --type email --no-header emails.txt --account acme

Block records named in the ledger (block_ids, from a records answer) are deleted directly
(an email or IP record is looked at first, GET, to learn what else it holds); the others are
found by listing the account's block list. An email or IP record may hold values that were
not asked for: it is deleted and those are blocked again at once, with the record's
blockTill, so that exactly the values asked for end unblocked (the dry run and the summary
count them; their ledger line says \"reblocked\": true). Each request is one ledger line:
unblocked, not_blocked (no record, or it was gone) or failed. The latest status of those
values is then unblocked, so a later `block --resume` of the same list blocks them again.";

const SYNC_EXAMPLES: &str = "\
Examples:
  The nightly import (cron): every value on the list stays blocked, renewed a week
  before its block ends; values that left the list are unblocked:
    ACQUIRE_API_KEY=... blockade sync --account acme --block-for 30d --prune \\
        --renew-within 7d abusers.csv
  Look first: list the account (read-only) and print the plan with examples:
    blockade sync --account acme --block-for 30d --prune abusers.csv --dry-run
  Emails, one per line:
    blockade sync --type email --no-header emails.txt --account acme --block-for 90d
  Then check the account against the ledger:
    blockade verify --account acme

What it does: lists the account's block records of --type (constant memory: bitmaps
for contact IDs, hashes for strings), then plans from what the account holds now:
  block   values with no live record;
  renew   values whose block ends before now + --renew-within (default: a quarter
          of --block-for): each gets now + --block-for;
  prune   (--prune) values an earlier sync blocked, per this target's ledger lines,
          that the list no longer names; records made by anyone else are never touched.
A value held long enough gets nothing: a second sync right after sends no write.
Renewal works whatever the server does with a value that has a record: it updates the
record (done), refuses a second one (the record is deleted and the value blocked again
at once), or adds a second one (the old one is then deleted when a sync made it; someone
else's is left to expire). A deleted record's other values are blocked again at once
with its blockTill. Ledger lines say op \"sync\":
blocked, renewed or unblocked.
There is no --resume: an interrupted or failed sync is picked up by running it again,
since each run plans from the account.";

const VERIFY_EXAMPLES: &str = "\
Examples:
  After the nightly sync:
    blockade verify --account acme && echo \"every claim holds\"
  One run's claims, the differences as a file:
    blockade verify blockade-results.jsonl --run 20261124T142001Z-4f2a \\
        --account acme --combined diff.txt
  For monitoring:
    blockade verify --account acme --summary-json verify.json --combined -

Lists the account (read-only, constant memory) and compares it with every value whose
latest ledger line (this target's) says blocked and whose block has not expired:
  =  held, with the blockTill the ledger says
  -  claimed, but no live record on the server
  *  held, with another blockTill (a later one still holds; an earlier one does not)
  +  on the server, though the ledger's latest line says unblocked
--combined writes one line per differing value: its mark, a space, the value.
Exit 0 when every claim holds (only = and later *), 1 otherwise.";

const BLOCKED_EXAMPLES: &str = "\
Examples:
  blockade blocked --account acme --output blocked.csv
  blockade blocked --account acme --type contact --expiring-before 2026-12-31T00:00:00Z
  blockade blocked --account acme --format jsonl --output - | jq .
  Undo some of it:  blockade unblock blocked.csv --id-field contact_id --account acme

CSV columns: block_id,type,contact_id,value,block_till,date_created,blocked_by";

const REPORT_EXAMPLES: &str = "\
Examples:
  blockade report blockade-results.jsonl
  blockade report shard-*.jsonl --json
  blockade report blockade-results.jsonl --failed-ids failed.csv
  blockade report --failed-ids - > failed.csv     # the default ledger; CSV on stdout
  blockade report shard-*.jsonl --html night.html # one offline picture of the runs";

const MOCK_EXAMPLES: &str = r#"Examples:
  blockade mock --port 8080 --key test-key
  blockade mock --fail-rate 0.3 --reset-rate 0.05 --latency 20ms..80ms --seed 7
  blockade mock --port 8443 --tls --tls-ca-out mock-ca.pem
    then: blockade block --base-url https://127.0.0.1:8443 \
              --ca-cert mock-ca.pem ...
  blockade mock --port 0 --answer records --on-duplicate 400
    (block records; duplicates refused)
  blockade mock --list-ignores-offset   # the list always answers page one

Block list: with --block-list (implied by --record-ids, --answer records,
--on-duplicate 400|add, --values-per-record K > 1, the seeds and
--list-ignores-offset) the imitation keeps every block record, and
  GET    /api/v1/crm/block-visitor?offset=0&limit=100   lists them (limit
         at most 1000)
  GET    /api/v1/crm/block-visitor/{id}   shows one (400 if there is none)
  DELETE /api/v1/crm/block-visitor?id={id}   deletes one (affected 1, or 0)
Without it those calls answer 404 and blocks stay as fast as they can be.
Blocks accept type contact (IDs), email and ip (strings; checked, IPs made
canonical). blockTill is kept and answered as RFC 3339 UTC with milliseconds.

Account state (each flag is also a field of MockConfig: its seeds, or Faults::block_list):
  blockade mock --seed-records others.jsonl
    one record a line; blockBy defaults to 2 (someone else), blockTill to +30d
    (RFC 3339, or an offset from now: -1d has expired a day ago):
      {"type":"contact","values":[827],"blockTill":"-1d","blockBy":2}
      {"type":"email","values":["a@b.co","c@d.org"],"blockTill":"+2d"}
      {"range":"ip:1-200,per=100"}
    a record as the list answers it ({"data": ...}) seeds as it is; or CSV:
      type,values,blockTill,blockBy
      email,a@b.co c@d.org,2030-01-01T00:00:00.000Z,7
  blockade mock --seed-range contact:1-1000000          # a million records
  blockade mock --seed-range contact:1-50,till=-1d,by=7  # already expired
  blockade mock --seed-range email:1-300,per=100
    (3 records of 100 emails seed1@example.com..; IPs are 10.0.0.0 + N)
  blockade mock --values-per-record 50 --answer records
    (a block of 120 new emails makes records of 50, 50 and 20 strings)
  blockade mock --on-duplicate 400 --on-expired-duplicate add
    (a live record refuses a second block; an expired one gets a second record)
  blockade mock --block-till-rounding end-of-day
    (blockTill 2030-01-01T08:19:24.627Z is kept as 2030-01-01T23:59:59.000Z)

Expired records stay listed with their old blockTill, as Acquire's do. Blocking
a value again: --on-duplicate decides for a live record, --on-expired-duplicate
(default: the same) for an expired one. update gives the record the new
blockTill (an email/IP record's other strings too); 400 refuses the request;
add makes a second record and leaves the old one listed. DELETE of a record
unblocks every string it holds.

Admin routes (key required; not counted as the client's requests):
  GET  /_mock/records?type=email&value=a@b.co   the account's records:
       {"now", "count", "records": [{"id", "type", "values", "blockTill",
       "dateCreated", "blockBy", "expired"}]}; filters type, value, id,
       blockBy, expired=true|false, offset, limit
  POST /_mock/unblock {"type":"email","values":["a@b.co"]} or {"ids":[3]}
       deletes every record holding them, as an admin in the web app would:
       {"affected", "deleted": [record]}
  POST /_mock/expire  {"ids":[3],"blockTill":"-1d"}   another blockTill
       (default: a second ago): {"affected", "records": [record]}
  POST /_mock/seed    {"type":"contact","values":[9]} (seed shapes; an array
       or JSON Lines too): records made by others, {"created": [ids]}
  e.g. curl -H 'Authorization: Bearer test-key' -d '{"ids":[3]}' \
           http://127.0.0.1:8080/_mock/unblock
GET /_mock/stats adds: routes (requests and statuses per method and path),
writes (POSTs + DELETEs sent: 0 = no write), expired_records, live_by_block_by,
records_created, values_updated, duplicates_refused, records_seeded,
admin_requests, admin_records_deleted, admin_records_retimed."#;

/// The heading of the flags every command takes, apart from each command's own options.
const GLOBAL: &str = "Global options";

#[derive(Debug, Args)]
pub struct LogArgs {
    /// More logging: -v for debug, -vv for trace (RUST_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = GLOBAL)]
    pub verbose: u8,
    /// Only errors and the final summary.
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = GLOBAL)]
    pub quiet: bool,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true, help_heading = GLOBAL)]
    pub log_format: LogFormat,
    /// Colour on stderr: auto = only on a terminal and when NO_COLOR is not set.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto, global = true, help_heading = GLOBAL)]
    pub color: ColorWhen,
}

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

impl ColorWhen {
    /// Whether stderr gets ANSI colour codes. `auto` honours NO_COLOR (set and not empty,
    /// as no-color.org says) and gives none when stderr is not a terminal (a log file,
    /// a pipe); a flag beats the environment.
    pub fn stderr_colored(self) -> bool {
        match self {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
                !no_color && std::io::IsTerminal::is_terminal(&std::io::stderr())
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where to send and how fast: shared by `block` and `retry`.
#[derive(Debug, Args, Clone)]
pub struct ConnectionArgs {
    /// The Acquire account (letters, digits and '-'): requests go to https://ACCOUNT.acquire.io,
    /// through the proxy in env HTTPS_PROXY (or ALL_PROXY) if set, unless NO_PROXY exempts it.
    /// [env: ACQUIRE_ACCOUNT; a flag beats the environment]
    #[arg(long, help_heading = "Connection")]
    pub account: Option<String>,
    /// Read the API key from this file (else from env ACQUIRE_API_KEY). Never a flag value.
    #[arg(long, value_name = "PATH", help_heading = "Connection")]
    pub api_key_file: Option<PathBuf>,
    /// Send to another server; plain http:// only to a loopback address.
    /// [env: ACQUIRE_BASE_URL; a flag beats the environment]
    #[arg(long, value_name = "URL", help_heading = "Connection")]
    pub base_url: Option<String>,
    /// Also trust the CA certificate(s) in this PEM file, beside the system's store: the CA
    /// of a TLS-inspecting corporate proxy. SSL_CERT_FILE works too, but replaces the
    /// system's store. Certificate verification cannot be turned off.
    #[arg(long, value_name = "PATH", help_heading = "Connection")]
    pub ca_cert: Option<PathBuf>,
    /// Start the built-in imitation in-process and send there (no account or key needed;
    /// the ledger defaults to blockade-sandbox.jsonl).
    #[arg(long, conflicts_with_all = ["account", "base_url", "api_key_file"], help_heading = "Connection")]
    pub sandbox: bool,
    /// Request rate limit: N/s, N/m or N/h.
    #[arg(long, default_value = "10/s", value_parser = parse_rate, help_heading = "Pacing")]
    pub rate: Rate,
    /// Requests that may start back to back before pacing applies (1 = evenly spaced).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000), help_heading = "Pacing")]
    pub burst: u32,
    /// Requests in flight at most: a number, or auto to keep just enough in flight to reach
    /// --rate at the latency observed (up to --max-concurrency).
    #[arg(long, default_value = "auto", value_parser = parse_concurrency, help_heading = "Pacing")]
    pub concurrency: Concurrency,
    /// The bound of --concurrency auto.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096), help_heading = "Pacing")]
    pub max_concurrency: u32,
    /// Attempts per batch before it is recorded as failed (a 429 does not use one).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100), help_heading = "Retries")]
    pub max_attempts: u32,
    /// Timeout of one request (e.g. 30s, 500ms).
    #[arg(long, default_value = "30s", value_parser = parse_duration, help_heading = "Retries")]
    pub timeout: Duration,
    /// Longest wait on 429s: a Retry-After beyond it (or 429 waits adding up past it) stops
    /// the run, and the summary says when the server asks to come back.
    #[arg(long, default_value = "15m", value_parser = parse_duration, help_heading = "Retries")]
    pub max_wait: Duration,
    /// First retry delay; it doubles each attempt (with full jitter).
    #[arg(long, default_value = "500ms", value_parser = parse_duration, help_heading = "Retries")]
    pub backoff_base: Duration,
    /// Longest retry delay.
    #[arg(long, default_value = "30s", value_parser = parse_duration, help_heading = "Retries")]
    pub backoff_max: Duration,
}

/// When the block ends.
#[derive(Debug, Args, Clone)]
pub struct BlockTillArgs {
    /// Block until this instant (RFC 3339, e.g. 2026-12-31T00:00:00Z).
    #[arg(long, value_name = "TIME", value_parser = parse_instant, conflicts_with = "block_for", help_heading = "Block till")]
    pub block_till: Option<DateTime<Utc>>,
    /// Block for this long from now: 30d, 12h, 90m, 2w, or calendar months (1month,
    /// 6months) and years (1year = 12 calendar months). Not 0.
    #[arg(long, value_name = "DURATION", value_parser = parse_block_for, help_heading = "Block till")]
    pub block_for: Option<BlockFor>,
}

/// `--block-for`: a fixed span, or calendar months (a month is not a fixed span).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockFor {
    Span(Duration),
    Months(u32),
}

/// The units `--block-for` takes, for messages.
const BLOCK_UNITS: &str = "min, h, d, w, mo or y (e.g. 90min, 12h, 30d, 2w, 6mo, 1y)";

/// Parses `--block-for`: whole numbers with a unit, `min`, `h`, `d` and `w` (which add
/// up: `1d12h`), or calendar months `mo` and years `y` alone (January 31st + 1mo is the
/// last day of February). A bare `m` is refused: operators mean months, `humantime`
/// meant minutes. Seconds are refused: no block is that short. How long is checked
/// against now (`config::block_till`): at least a minute, at most 10 years.
pub fn parse_block_for(text: &str) -> Result<BlockFor, String> {
    let trimmed = text.trim();
    let mut rest = trimmed;
    let mut seconds: u64 = 0;
    let mut months: Option<u32> = None;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "{trimmed}: expected a whole number and a unit: {BLOCK_UNITS}"
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{trimmed}: the number is too large"))?;
        let after = rest[digits..].trim_start();
        let letters = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = after.split_at(letters);
        rest = tail.trim_start();
        parts += 1;
        let per_unit = match unit {
            "min" | "mins" | "minute" | "minutes" => 60,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
            "d" | "day" | "days" => 86_400,
            "w" | "wk" | "week" | "weeks" => 7 * 86_400,
            "mo" | "month" | "months" | "y" | "yr" | "year" | "years" => {
                let per = if unit.starts_with('m') { 1 } else { 12 };
                let n = u32::try_from(number)
                    .ok()
                    .and_then(|n| n.checked_mul(per))
                    .ok_or_else(|| format!("{trimmed}: too many months"))?;
                months = Some(months.unwrap_or(0).saturating_add(n));
                continue;
            }
            "m" => {
                return Err(format!(
                    "{trimmed}: `m` is ambiguous: write {number}min for minutes or {number}mo for months"
                ));
            }
            "s" | "sec" | "secs" | "second" | "seconds" | "ms" => {
                return Err(format!(
                    "{trimmed}: a block is at least a minute long; give it in {BLOCK_UNITS}"
                ));
            }
            "" => {
                return Err(format!(
                    "{trimmed}: {number} what? give a unit: {BLOCK_UNITS}"
                ));
            }
            other => {
                return Err(format!(
                    "{trimmed}: unknown unit `{other}`; give {BLOCK_UNITS}"
                ));
            }
        };
        seconds = number
            .checked_mul(per_unit)
            .and_then(|s| seconds.checked_add(s))
            .ok_or_else(|| format!("{trimmed}: too long"))?;
    }
    match months {
        Some(_) if parts > 1 => Err(format!(
            "{trimmed}: months and years are calendar units and cannot be mixed with others; give them alone (6mo, 1y) or use days (e.g. 45d)"
        )),
        Some(months) => Ok(BlockFor::Months(months)),
        None if parts == 0 => Err(format!("an empty duration: give {BLOCK_UNITS}")),
        None => Ok(BlockFor::Span(Duration::from_secs(seconds))),
    }
}

/// How the inputs are read (block, unblock, sync).
#[derive(Debug, Args, Clone)]
pub struct ReadArgs {
    /// The input format, where the extension does not say (required for stdin unless
    /// --no-header): plain is one value per line with no header, as in a .txt file.
    #[arg(long, value_enum, help_heading = "Input")]
    pub format: Option<Format>,
    /// The inputs have no header: read each as a plain list, one value per line.
    #[arg(long, help_heading = "Input")]
    pub no_header: bool,
    /// CSV column or JSONL key holding the value [default: id, contact_id or contactId;
    /// email, e-mail or mail with --type email; ip, ip_address, ipAddress or address with --type ip].
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub id_field: Option<String>,
    /// CSV field delimiter (one ASCII character; \t for tab) [default: ',', or a tab for .tsv].
    #[arg(long, value_parser = parse_delimiter, help_heading = "Input")]
    pub delimiter: Option<u8>,
}

impl ReadArgs {
    /// The readers' options, with the block-till of rows that have none of their own.
    pub fn options(
        &self,
        block_till_field: Option<String>,
        default_block_till: Option<DateTime<Utc>>,
    ) -> crate::input::ReadOptions {
        crate::input::ReadOptions {
            format: self.format,
            id_field: self.id_field.clone(),
            delimiter: self.delimiter.unwrap_or(b','),
            delimiter_set: self.delimiter.is_some(),
            no_header: self.no_header,
            block_till_field,
            default_block_till,
        }
    }

    /// Whether every input is a plain list (one value per line, no header).
    pub fn plain(&self) -> bool {
        self.no_header || self.format == Some(Format::Plain)
    }
}

/// The help of options several commands share, written once.
const OFFLINE_HELP: &str = "With --dry-run: make no request at all (the target, the key and the account are then not checked).";
const SUMMARY_JSON_HELP: &str = "Also write the final summary as JSON to this file (for monitoring), on every exit; - writes it to standard output (the text summary then goes to standard error).";

#[derive(Debug, Args)]
pub struct BlockArgs {
    /// Input files (.csv, .tsv, .jsonl, .ndjson, .txt, each optionally .gz), or - for stdin.
    /// With none, standard input is read when it is not a terminal.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// What the values are: contact IDs, email addresses (trimmed, lowercased) or IP
    /// addresses (v4 or v6, canonical form).
    #[arg(long = "type", value_enum, value_name = "TYPE", default_value_t = ValueType::Contact, help_heading = "Input")]
    pub value_type: ValueType,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Column or key giving each row its own block-till (RFC 3339); empty values fall back
    /// to --block-till/--block-for.
    #[arg(long, value_name = "NAME", help_heading = "Block till")]
    pub block_till_field: Option<String>,
    #[command(flatten)]
    pub till: BlockTillArgs,
    /// IDs per request.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000), help_heading = "Input")]
    pub batch_size: u32,
    /// The results ledger, appended to [default: blockade-results.jsonl, or
    /// blockade-sandbox.jsonl with --sandbox].
    #[arg(long, value_name = "PATH")]
    pub results: Option<PathBuf>,
    /// Skip values whose latest outcome in the ledger (this target's runs only) is
    /// blocked until a time still to come; expired blocks are sent again.
    #[arg(long)]
    pub resume: bool,
    /// A preflight: read, validate, dedupe (and apply --resume), and make one read-only
    /// request that checks the host, the certificate, the key and the account; print the
    /// plan. Changes nothing, writes no ledger; exits 3 or 1 where a real run would.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, requires = "dry_run", help = OFFLINE_HELP)]
    pub offline: bool,
    #[arg(long, value_name = "PATH|-", help = SUMMARY_JSON_HELP)]
    pub summary_json: Option<PathBuf>,
    /// Take only the IDs of shard K of N (a stable hash of the ID), so N copies of blockade
    /// split one list with no overlap and no gap; give each its share of the rate.
    #[arg(long, value_name = "K/N", value_parser = parse_shard, help_heading = "Input")]
    pub shard: Option<Shard>,
    /// Check every input first and send nothing (exit 2) if more rows than this are
    /// rejected: a count (100) or a fraction of all rows (0.05). Not with stdin.
    #[arg(long, value_name = "N|FRACTION", value_parser = parse_reject_limit, help_heading = "Input")]
    pub max_rejects: Option<RejectLimit>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The results ledger whose failed IDs are re-sent [default: blockade-results.jsonl,
    /// or blockade-sandbox.jsonl with --sandbox]. Only lines of runs against the same
    /// target are used.
    #[arg(value_name = "RESULTS")]
    pub ledger: Option<PathBuf>,
    /// Also re-send IDs the server refused by name (status `refused`); by default they are
    /// left alone, since sending them again will not help.
    #[arg(long)]
    pub include_refused: bool,
    /// Re-send only the failed values of this type [default: the type of the ledger's
    /// failed lines; given several, name one].
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub value_type: Option<ValueType>,
    /// A preflight: read the ledger, make one read-only request that checks the host,
    /// the certificate, the key and the account, and print what would be re-sent.
    /// Changes nothing, writes nothing; exits 3 or 1 where a real run would.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, requires = "dry_run", help = OFFLINE_HELP)]
    pub offline: bool,
    /// Append outcomes to this ledger instead of RESULTS.
    #[arg(long, value_name = "PATH")]
    pub results: Option<PathBuf>,
    /// IDs per request.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,
    #[command(flatten)]
    pub till: BlockTillArgs,
    #[arg(long, value_name = "PATH|-", help = SUMMARY_JSON_HELP)]
    pub summary_json: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct UnblockArgs {
    /// Input files of contact IDs (.csv, .jsonl, each optionally .gz), or - for stdin.
    #[arg(
        value_name = "INPUT",
        required_unless_present = "from_ledger",
        conflicts_with = "from_ledger"
    )]
    pub inputs: Vec<String>,
    /// Undo what this ledger blocked (this target's runs only; all of them unless --run).
    #[arg(long, value_name = "LEDGER")]
    pub from_ledger: Option<PathBuf>,
    /// Only what this run blocked (its id, as the ledger's run lines and the summary say),
    /// and what a later `retry` blocked of the values this run failed.
    #[arg(long, value_name = "RUN", requires = "from_ledger")]
    pub run: Option<String>,
    #[command(flatten)]
    pub read: ReadArgs,
    /// What to unblock: contact IDs, email addresses or IP addresses (normalised as block
    /// does) [default: contact for inputs; for --from-ledger, the type the run's lines have].
    #[arg(long = "type", value_enum, value_name = "TYPE", help_heading = "Input")]
    pub value_type: Option<ValueType>,
    /// Block records asked for per list page.
    #[arg(long, default_value_t = crate::api::list::DEFAULT_PAGE_SIZE, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub page_size: u64,
    /// The results ledger, appended to [default: the --from-ledger ledger, else
    /// blockade-results.jsonl, or blockade-sandbox.jsonl with --sandbox].
    #[arg(long, value_name = "PATH")]
    pub results: Option<PathBuf>,
    /// Skip values whose latest outcome in the ledger (this target's runs) is unblocked or
    /// not_blocked.
    #[arg(long)]
    pub resume: bool,
    /// A preflight: find what would be deleted (this lists the block list when the ledger
    /// does not name the records; else one read-only request checks the target) and print
    /// it with counts. Deletes nothing, writes nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, requires = "dry_run", help = OFFLINE_HELP)]
    pub offline: bool,
    #[arg(long, value_name = "PATH|-", help = SUMMARY_JSON_HELP)]
    pub summary_json: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Input files (.csv, .tsv, .jsonl, .ndjson, .txt, each optionally .gz), or - for stdin:
    /// the whole list (a value not in it is pruned with --prune).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// What the values are: contact IDs, email addresses or IP addresses.
    #[arg(long = "type", value_enum, value_name = "TYPE", default_value_t = ValueType::Contact, help_heading = "Input")]
    pub value_type: ValueType,
    #[command(flatten)]
    pub read: ReadArgs,
    /// How long each block lasts from now: 30d, 2w, 6months, 1year.
    #[arg(long, value_name = "DURATION", value_parser = parse_block_for, help_heading = "Block till")]
    pub block_for: BlockFor,
    /// Renew a block that ends sooner than this from now [default: a quarter of
    /// --block-for].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Block till")]
    pub renew_within: Option<Duration>,
    /// Also unblock the values that earlier syncs blocked (per this target's ledger lines)
    /// and the inputs no longer name. Records made by anyone else are never touched. Give
    /// each list synced with --prune its own ledger (--results): a sync prunes what the
    /// ledger's other syncs blocked. An input not read to its end prunes nothing.
    #[arg(long)]
    pub prune: bool,
    /// Values per block request.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000), help_heading = "Input")]
    pub batch_size: u32,
    /// Send nothing (exit 2) if more rows than this are rejected: a count (100) or a
    /// fraction of all rows (0.05). With --prune, a malformed row's value counts as no
    /// longer listed: a small limit keeps a damaged export from pruning.
    #[arg(long, value_name = "N|FRACTION", value_parser = parse_reject_limit, help_heading = "Input")]
    pub max_rejects: Option<RejectLimit>,
    /// Block records asked for per list page.
    #[arg(long, default_value_t = crate::api::list::DEFAULT_PAGE_SIZE, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub page_size: u64,
    /// The results ledger, appended to, and read for what earlier syncs blocked [default:
    /// blockade-results.jsonl, or blockade-sandbox.jsonl with --sandbox].
    #[arg(long, value_name = "PATH")]
    pub results: Option<PathBuf>,
    /// List the account (read-only) and print the plan with counts and examples. Sends no
    /// write, writes no ledger.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_name = "PATH|-", help = SUMMARY_JSON_HELP)]
    pub summary_json: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The results ledger whose claims are checked [default: blockade-results.jsonl, or
    /// blockade-sandbox.jsonl with --sandbox]. Only lines of runs against the same target
    /// are used.
    #[arg(value_name = "RESULTS")]
    pub ledger: Option<PathBuf>,
    /// Only the values whose latest line is of this run.
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    /// Write one line per differing value (`- value`, `* value`, `+ value`) to this file,
    /// or - for standard output (the summary then goes to standard error).
    #[arg(long, value_name = "FILE|-")]
    pub combined: Option<PathBuf>,
    /// Block records asked for per list page.
    #[arg(long, default_value_t = crate::api::list::DEFAULT_PAGE_SIZE, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub page_size: u64,
    /// Also write the summary as JSON to this file, or - for standard output.
    #[arg(long, value_name = "PATH|-")]
    pub summary_json: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// What `blocked` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Args)]
pub struct BlockedArgs {
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    pub format: ExportFormat,
    /// Where to write: a file (written only by its owner), or - for stdout.
    #[arg(long, value_name = "PATH|-", default_value = "-")]
    pub output: PathBuf,
    /// Only records of this type.
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub record_type: Option<ValueType>,
    /// Only records whose block-till is before this instant (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub expiring_before: Option<DateTime<Utc>>,
    /// Block records asked for per list page.
    #[arg(long, default_value_t = crate::api::list::DEFAULT_PAGE_SIZE, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub page_size: u64,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// One or more ledgers (several shards' ledgers merge) [default: blockade-results.jsonl].
    #[arg(value_name = "RESULTS")]
    pub ledgers: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write the values whose latest outcome is failed to this CSV; - writes it to
    /// standard output (the report then goes to standard error).
    #[arg(long, value_name = "PATH|-")]
    pub failed_ids: Option<PathBuf>,
    /// Also write one self-contained HTML picture of the runs (values per second by
    /// outcome, requests, latency, 429 episodes and stops on one time axis; the summary;
    /// the top errors) to this file; - writes it to standard output instead of the text
    /// report. It loads nothing from anywhere: open it offline, attach it, archive it.
    #[arg(long, value_name = "FILE|-")]
    pub html: Option<PathBuf>,
    /// The type of value --failed-ids writes [default: the one type with failures].
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub value_type: Option<ValueType>,
    /// List every rejected input row and every ID the server still refuses, with its
    /// file:line and the reason (after the summary; with --json, as a "rejected" array).
    #[arg(long)]
    pub rejected: bool,
}

#[derive(Debug, Args)]
pub struct MockArgs {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Port (0 = any free port; the chosen address is printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The Bearer key the imitation accepts (else env ACQUIRE_API_KEY, else "test-key").
    #[arg(long, env = "BLOCKADE_MOCK_KEY", hide_env_values = true)]
    pub key: Option<MockKey>,
    /// Keep per-ID counts and per-second request counts (for tests; slower).
    #[arg(long)]
    pub record_ids: bool,
    /// Answer 429 past this many requests per second.
    #[arg(long, value_name = "R")]
    pub rate_limit: Option<u32>,
    /// The shape of --rate-limit: R in any 1 s window, R per whole second, or a token bucket.
    #[arg(long, value_enum, default_value_t = crate::mock::LimitKind::Sliding)]
    pub limit_kind: crate::mock::LimitKind,
    /// The token bucket's capacity (--limit-kind bucket; default R).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit_burst: Option<u32>,
    /// The least Retry-After seconds sent with those 429s (they say when the limit admits
    /// again, rounded up).
    #[arg(long, default_value_t = 1)]
    pub retry_after: u64,
    /// Advertise --rate-limit on every answer (429s included) in one header family:
    /// github = X-RateLimit-Limit/-Remaining/-Reset (Unix seconds); draft =
    /// RateLimit-Limit/-Remaining/-Reset (seconds); policy = RateLimit-Policy and RateLimit.
    #[arg(long, value_enum, value_name = "FAMILY", requires = "rate_limit")]
    pub ratelimit_headers: Option<crate::mock::RateLimitHeaders>,
    /// Probability of a 500 or 503.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub fail_rate: f64,
    /// Probability of 200 {"data": false}.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub false_rate: f64,
    /// Probability of a 200 in neither documented form ({"status":"ok"}).
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub odd_answer_rate: f64,
    /// Delay each answer by a uniform time in A..B (e.g. 20ms..80ms, or 50ms).
    #[arg(long, value_name = "A..B", value_parser = parse_latency)]
    pub latency: Option<(Duration, Duration)>,
    /// Probability of dropping the connection without an answer.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub reset_rate: f64,
    /// Answer 400 to any batch holding one of these IDs.
    #[arg(long, value_delimiter = ',', value_name = "ID,...")]
    pub poison: Vec<u64>,
    /// Answer 401 to everything after N successful requests.
    #[arg(long, value_name = "N")]
    pub revoke_after: Option<u64>,
    /// Seed for the fault dice (reproducible runs).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Serve https with a throwaway certificate for localhost, 127.0.0.1 and ::1, signed by
    /// a throwaway CA whose certificate is written to --tls-ca-out (else a temporary file,
    /// named on startup): trust it with `blockade block --ca-cert FILE`.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"], help_heading = "HTTPS")]
    pub tls: bool,
    /// Serve https with this certificate (PEM, leaf first, then any intermediates).
    #[arg(long, value_name = "PEM", requires = "tls_key", help_heading = "HTTPS")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long,
        value_name = "PEM",
        requires = "tls_cert",
        help_heading = "HTTPS"
    )]
    pub tls_key: Option<PathBuf>,
    /// Where --tls writes its throwaway CA certificate (implies --tls).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["tls_cert", "tls_key"], help_heading = "HTTPS")]
    pub tls_ca_out: Option<PathBuf>,
    /// Keep the block list, so that list, get and delete calls work (memory: about 70 MB
    /// per million records).
    #[arg(long, help_heading = "Block list")]
    pub block_list: bool,
    /// What a block answers: true = {"data": true}; records = {"data": [block record, ...]},
    /// each record the block created or updated once, in request order (keeps the block
    /// list).
    #[arg(long, value_enum, default_value_t = AnswerMode::True, help_heading = "Block list")]
    pub answer: AnswerMode,
    /// Blocking a value that already has a record (expired ones too, unless
    /// --on-expired-duplicate says otherwise): update = new blockTill, same record, answered
    /// as if created; 400 = ERROR_DUPLICATE_RECORD_FOUND naming it, nothing in that request
    /// blocked; add = the value gets another record, the old one stays (400 and add keep
    /// the block list).
    #[arg(long, value_enum, default_value_t = OnDuplicate::Update, help_heading = "Block list")]
    pub on_duplicate: OnDuplicate,
    /// Fault: the list call ignores `offset` and always answers the first page (keeps the
    /// block list).
    #[arg(long, help_heading = "Block list")]
    pub list_ignores_offset: bool,
    /// Blocking a value whose only record has expired (its blockTill passed; the record is
    /// still listed): update, 400 or add, as for --on-duplicate [default: what
    /// --on-duplicate says].
    #[arg(long, value_enum, help_heading = "Block list")]
    pub on_expired_duplicate: Option<OnDuplicate>,
    /// Emails or IPs per record a block creates: a request's new values go into records of
    /// K strings each, in order (1 = one record per value; all = one record per request,
    /// as the docs' example answer). Contact records hold one contact. K > 1 keeps the
    /// block list.
    #[arg(long, value_name = "K|all", default_value = "1", value_parser = parse_values_per_record, help_heading = "Block list")]
    pub values_per_record: usize,
    /// What a block's blockTill becomes: none = kept to the millisecond; end-of-day =
    /// 23:59:59.000 of its UTC day, the only form the docs' answers show (their add
    /// example answers 23:59:59.000Z for 08:19:24.627Z sent). end-of-day keeps the list.
    #[arg(long, value_enum, value_name = "HOW", default_value_t = TillRounding::None, help_heading = "Block list")]
    pub block_till_rounding: TillRounding,
    /// Records the account holds before the first request, made by others (blockBy 2
    /// unless given): JSON Lines or CSV, see below. Repeatable; keeps the block list.
    #[arg(long, value_name = "FILE", help_heading = "Account state")]
    pub seed_records: Vec<PathBuf>,
    /// Generated records made by others: TYPE:FIRST-LAST[,per=K][,till=T][,by=U], e.g.
    /// contact:1-1000,till=-1d (T: RFC 3339 or an offset from now, +30d by default).
    /// Repeatable; keeps the block list.
    #[arg(long, value_name = "SPEC", value_parser = parse_seed_range, help_heading = "Account state")]
    pub seed_range: Vec<SeedRange>,
}

/// The imitation's `--key`: `Debug` shows it redacted.
#[derive(Clone)]
pub struct MockKey(pub String);

impl From<String> for MockKey {
    fn from(key: String) -> Self {
        MockKey(key)
    }
}

impl std::fmt::Debug for MockKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `--values-per-record`: a positive number, or `all`.
fn parse_values_per_record(text: &str) -> Result<usize, String> {
    match text.trim() {
        "all" => Ok(usize::MAX),
        number => number
            .parse::<usize>()
            .ok()
            .filter(|&k| k > 0)
            .ok_or_else(|| format!("{text:?} is not a positive number or `all`")),
    }
}

fn parse_seed_range(text: &str) -> Result<SeedRange, String> {
    text.parse()
}

/// Parses `N/s`, `N/m` or `N/h`.
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    text.parse()
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    text.parse()
}

fn parse_reject_limit(text: &str) -> Result<RejectLimit, String> {
    text.parse()
}

fn parse_concurrency(text: &str) -> Result<Concurrency, String> {
    text.parse()
}

/// Parses a span like `30s`, `500ms`, `30d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{e}: expected a span like 500ms, 30s, 15m, 12h or 30d"))
}

/// Parses an RFC 3339 instant into UTC.
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}: expected RFC 3339, e.g. 2026-12-31T00:00:00Z"))
}

fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "\\t" | "\t" | "tab" => Ok(b'\t'),
        _ if text.len() == 1 && text.is_ascii() => Ok(text.as_bytes()[0]),
        _ => Err("expected one ASCII character, e.g. ',' ';' '|' or \\t".into()),
    }
}

fn parse_probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err("expected a probability between 0 and 1, e.g. 0.3".into()),
    }
}

fn parse_latency(text: &str) -> Result<(Duration, Duration), String> {
    let (low, high) = text.split_once("..").unwrap_or((text, text));
    let (low, high) = (parse_duration(low)?, parse_duration(high)?);
    if low > high {
        return Err(format!(
            "{text}: the low end is above the high end (expected A..B with A <= B)"
        ));
    }
    Ok((low, high))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn block_for_takes_spans_or_calendar_months() {
        let days = |n: u64| Ok(BlockFor::Span(Duration::from_secs(n * 86400)));
        assert_eq!(parse_block_for("30d"), days(30));
        assert_eq!(parse_block_for("2w"), days(14));
        assert_eq!(
            parse_block_for("1d 12h"),
            Ok(BlockFor::Span(Duration::from_secs(36 * 3600)))
        );
        assert_eq!(
            parse_block_for("90min"),
            Ok(BlockFor::Span(Duration::from_secs(90 * 60)))
        );
        assert_eq!(parse_block_for("6mo"), Ok(BlockFor::Months(6)));
        assert_eq!(parse_block_for("6months"), Ok(BlockFor::Months(6)));
        assert_eq!(parse_block_for("1 month"), Ok(BlockFor::Months(1)));
        assert_eq!(parse_block_for("2y"), Ok(BlockFor::Months(24)));
        assert!(parse_block_for("1y6mo").unwrap_err().contains("calendar"));
        crate::testing::assert_refused(
            parse_block_for,
            &[
                ("6m", "write 6min for minutes or 6mo for months"),
                ("30s", "at least a minute"),
                ("1ms", "at least a minute"),
                ("soon", "a whole number and a unit"),
                ("30", "give a unit"),
                ("3fortnights", "unknown unit"),
                ("", "empty"),
            ],
        );
    }

    #[test]
    fn delimiter_accepts_one_ascii_char_or_tab() {
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        assert_eq!(parse_delimiter("\\t"), Ok(b'\t'));
        assert!(parse_delimiter(";;").is_err());
        assert!(parse_delimiter("é").is_err());
    }

    #[test]
    fn latency_takes_a_range_or_one_value() {
        let ms = Duration::from_millis;
        assert_eq!(parse_latency("20ms..80ms"), Ok((ms(20), ms(80))));
        assert_eq!(parse_latency("50ms"), Ok((ms(50), ms(50))));
        assert!(parse_latency("80ms..20ms").is_err());
    }

    #[test]
    fn instants_are_rfc3339_and_converted_to_utc() {
        let t = parse_instant("2026-12-31T02:00:00+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-31T00:00:00+00:00");
        assert!(parse_instant("tomorrow").unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn probabilities_are_between_zero_and_one() {
        assert_eq!(parse_probability("0.3"), Ok(0.3));
        assert!(parse_probability("1.5").is_err());
        assert!(parse_probability("x").is_err());
    }
}
