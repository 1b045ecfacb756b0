//! The command line, as clap structs and value parsers only.
//!
//! Nothing here does I/O: `config.rs` turns these raw values into checked objects in one
//! fallible step, so every usage error is found before the first request (exit 2).

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::concurrency::Concurrency;
use crate::input::{Format, ValueType};
use crate::mock::{AnswerMode, OnDuplicate};
use crate::rate::Rate;
use crate::reject_limit::RejectLimit;
use crate::shard::Shard;

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

Block records named in the ledger (block_ids, from a records answer) are deleted directly;
the others are found by listing the account's block list. Each DELETE is one ledger line:
unblocked, not_blocked (no record, or it was gone) or failed. The latest status of those
contacts is then unblocked, so a later `block --resume` of the same list blocks them again.";

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
  blockade report --failed-ids - > failed.csv     # the default ledger; CSV on stdout";

const MOCK_EXAMPLES: &str = "\
Examples:
  blockade mock --port 8080 --key test-key
  blockade mock --fail-rate 0.3 --reset-rate 0.05 --latency 20ms..80ms --seed 7
  blockade mock --port 8443 --tls --tls-ca-out mock-ca.pem
    then: blockade block --base-url https://127.0.0.1:8443 \\
              --ca-cert mock-ca.pem ...
  blockade mock --port 0 --answer records --on-duplicate 400
    (block records; duplicates refused)
  blockade mock --list-ignores-offset   # the list always answers page one

Block list: with --block-list (implied by --record-ids, --answer records,
--on-duplicate 400 and --list-ignores-offset) the imitation keeps every block
record, and
  GET    /api/v1/crm/block-visitor?offset=0&limit=100   lists them (limit
         at most 1000)
  GET    /api/v1/crm/block-visitor/{id}   shows one (400 if there is none)
  DELETE /api/v1/crm/block-visitor?id={id}   deletes one (affected 1, or 0)
Without it those calls answer 404 and blocks stay as fast as they can be.
Blocks accept type contact (IDs), email and ip (strings; checked, IPs made
canonical).";

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

/// Parses `--block-for`: `N month(s)`/`Nmo` and `N year(s)`/`Ny` as calendar months,
/// anything else as a span. humantime's own month (30.44 days) is never used.
pub fn parse_block_for(text: &str) -> Result<BlockFor, String> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let months_per_unit = match unit.trim() {
        "mo" | "month" | "months" | "M" => Some(1),
        "y" | "year" | "years" => Some(12),
        _ => None,
    };
    if let Some(per_unit) = months_per_unit {
        return number
            .parse::<u32>()
            .ok()
            .and_then(|n| n.checked_mul(per_unit))
            .map(BlockFor::Months)
            .ok_or_else(|| {
                format!("{text}: expected a whole number of months or years, e.g. 6months or 1year")
            });
    }
    let calendar_unit = text
        .split(|c: char| !c.is_ascii_alphabetic())
        .any(|unit| ["mo", "month", "months", "M", "y", "year", "years"].contains(&unit));
    if calendar_unit {
        return Err(format!(
            "{text}: months and years are calendar units and cannot be mixed with others; give them alone (6months, 1year) or use days (e.g. 45d)"
        ));
    }
    parse_duration(text).map(BlockFor::Span)
}

#[derive(Debug, Args)]
pub struct BlockArgs {
    /// Input files (.csv, .tsv, .jsonl, .ndjson, .txt, each optionally .gz), or - for stdin.
    /// With none, standard input is read when it is not a terminal.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// The input format, where the extension does not say (required for stdin unless
    /// --no-header): plain is one value per line with no header, as in a .txt file.
    #[arg(long, value_enum, help_heading = "Input")]
    pub format: Option<Format>,
    /// The inputs have no header: read each as a plain list, one value per line.
    #[arg(long, help_heading = "Input")]
    pub no_header: bool,
    /// What the values are: contact IDs, email addresses (trimmed, lowercased) or IP
    /// addresses (v4 or v6, canonical form).
    #[arg(long = "type", value_enum, value_name = "TYPE", default_value_t = ValueType::Contact, help_heading = "Input")]
    pub value_type: ValueType,
    /// CSV column or JSONL key holding the ID [default: id, contact_id or contactId;
    /// email, e-mail or mail with --type email; ip, ip_address, ipAddress or address with --type ip].
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub id_field: Option<String>,
    /// CSV field delimiter (one ASCII character; \t for tab) [default: ',', or a tab for .tsv].
    #[arg(long, value_parser = parse_delimiter, help_heading = "Input")]
    pub delimiter: Option<u8>,
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
    /// Skip IDs whose latest outcome in the ledger (this target's runs only) is blocked.
    #[arg(long)]
    pub resume: bool,
    /// A preflight: read, validate, dedupe (and apply --resume), check the target and that
    /// a key is there; print the plan. Sends nothing, writes no ledger.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the final summary as JSON to this file (for monitoring).
    #[arg(long, value_name = "PATH")]
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
    /// A preflight: read the ledger, check the target and that a key is there, print what
    /// would be re-sent. Sends nothing, writes nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Append outcomes to this ledger instead of RESULTS.
    #[arg(long, value_name = "PATH")]
    pub results: Option<PathBuf>,
    /// IDs per request.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,
    #[command(flatten)]
    pub till: BlockTillArgs,
    /// Also write the final summary as JSON to this file (for monitoring).
    #[arg(long, value_name = "PATH")]
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
    /// Only what this run blocked (its id, as the ledger's run lines and the summary say).
    #[arg(long, value_name = "RUN", requires = "from_ledger")]
    pub run: Option<String>,
    /// The input format, where the extension does not say (required for stdin).
    #[arg(long, value_enum, help_heading = "Input")]
    pub format: Option<Format>,
    /// CSV column or JSONL key holding the ID [default: id, contact_id or contactId].
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub id_field: Option<String>,
    /// The inputs have no header: read each as a plain list, one value per line.
    #[arg(long, help_heading = "Input")]
    pub no_header: bool,
    /// CSV field delimiter (one ASCII character; \t for tab) [default: ',', or a tab for .tsv].
    #[arg(long, value_parser = parse_delimiter, help_heading = "Input")]
    pub delimiter: Option<u8>,
    /// What to unblock: contact IDs, email addresses or IP addresses (normalised as block
    /// does) [default: contact for inputs; for --from-ledger, the type the run's lines have].
    #[arg(long = "type", value_enum, value_name = "TYPE", help_heading = "Input")]
    pub value_type: Option<ValueType>,
    /// Block records asked for per list page.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub page_size: u64,
    /// The results ledger, appended to [default: the --from-ledger ledger, else
    /// blockade-results.jsonl, or blockade-sandbox.jsonl with --sandbox].
    #[arg(long, value_name = "PATH")]
    pub results: Option<PathBuf>,
    /// Skip contacts whose latest outcome in the ledger (this target's runs) is unblocked
    /// or not_blocked.
    #[arg(long)]
    pub resume: bool,
    /// A preflight: find what would be deleted (this lists the block list when the ledger
    /// does not name the records) and print it with counts. Deletes nothing, writes nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the final summary as JSON to this file (for monitoring).
    #[arg(long, value_name = "PATH")]
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

/// A block record's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RecordType {
    Contact,
    Email,
    Ip,
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
    pub record_type: Option<RecordType>,
    /// Only records whose block-till is before this instant (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub expiring_before: Option<DateTime<Utc>>,
    /// Block records asked for per list page.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1000))]
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
    /// Write the IDs whose latest outcome is failed to this CSV; - writes it to standard
    /// output (the report then goes to standard error).
    #[arg(long, value_name = "PATH|-")]
    pub failed_ids: Option<PathBuf>,
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
    pub key: Option<String>,
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
    /// one per value sent, in order (keeps the block list).
    #[arg(long, value_enum, default_value_t = AnswerMode::True, help_heading = "Block list")]
    pub answer: AnswerMode,
    /// Blocking a value that is already blocked: update = new blockTill, same record,
    /// answered as if created; 400 = ERROR_DUPLICATE_RECORD_FOUND naming it, nothing in
    /// that request blocked; add = a contact gets another record (keeps the block list).
    #[arg(long, value_enum, default_value_t = OnDuplicate::Update, help_heading = "Block list")]
    pub on_duplicate: OnDuplicate,
    /// Fault: the list call ignores `offset` and always answers the first page (keeps the
    /// block list).
    #[arg(long, help_heading = "Block list")]
    pub list_ignores_offset: bool,
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
        assert_eq!(
            parse_block_for("30d"),
            Ok(BlockFor::Span(Duration::from_secs(30 * 86400)))
        );
        assert_eq!(parse_block_for("6months"), Ok(BlockFor::Months(6)));
        assert_eq!(parse_block_for("1 month"), Ok(BlockFor::Months(1)));
        assert_eq!(parse_block_for("2y"), Ok(BlockFor::Months(24)));
        assert!(
            parse_block_for("1y6months")
                .unwrap_err()
                .contains("calendar")
        );
        assert!(parse_block_for("soon").is_err());
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
