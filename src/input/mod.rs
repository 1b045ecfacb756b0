//! Input readers: turn a CSV, JSONL or plain-list file (or stdin, optionally gzip-compressed) into a
//! stream of [`Item`]s — a valid [`Row`], a per-row [`Reject`], or one final `Broken`.
//!
//! Constraints kept:
//! - Everything that can be checked before sending (the file opens, the format is known, the
//!   CSV header has the ID column) is checked in [`open`], so the caller can exit 2 with nothing
//!   sent.
//! - Streaming only: a source holds a bounded amount of memory whatever the size of its input
//!   (a capped line/record buffer plus fixed read buffers). Nothing is loaded whole.
//! - Bad input never panics and never vanishes: every input row ends as a `Row` or a `Reject`
//!   naming its `path:line`, and a source that cannot be read further says so with `Broken`.

mod cell;
mod csv;
mod jsonl;
pub(crate) mod reject_limit;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use flate2::read::MultiGzDecoder;
use thiserror::Error;

use self::cell::BlockTill;
use self::csv::CsvRows;
use self::jsonl::JsonlRows;
use crate::values::Kind;
pub use crate::values::{Origin, Row};

/// Read buffer per source; with the CSV record cap or the JSONL line cap this bounds memory.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// What the rows of a source look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// JSON Lines: one JSON object per line (also `.ndjson`).
    Jsonl,
    /// A plain list: one value per line, no header (also `.txt`, or `--no-header`).
    Plain,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Plain => "plain",
        })
    }
}

/// How to read the inputs; the same for every input of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// Forced format; needed for `-` (stdin) and for unrecognised extensions.
    pub format: Option<Format>,
    /// CSV header or JSONL key of the ID; `None` tries [`DEFAULT_ID_FIELDS`] in order.
    pub id_field: Option<String>,
    /// CSV field delimiter (default `b','`).
    pub delimiter: u8,
    /// `delimiter` was given (`--delimiter`); if not, a `.tsv` input is read with a tab.
    pub delimiter_set: bool,
    /// `--no-header`: every input is a plain list, one value per line.
    pub no_header: bool,
    /// CSV column or JSONL key holding each row's own block-till (RFC 3339).
    pub block_till_field: Option<String>,
    /// Block-till of rows without their own (from `--block-till` / `--block-for`).
    pub default_block_till: Option<DateTime<Utc>>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            format: None,
            id_field: None,
            delimiter: b',',
            delimiter_set: false,
            no_header: false,
            block_till_field: None,
            default_block_till: None,
        }
    }
}

/// One input row (or, for `Item::Broken`, one read failure) that could not be used.
#[derive(Clone, Debug, PartialEq)]
pub struct Reject {
    pub origin: Origin,
    /// The raw row, lossy UTF-8, at most 200 characters (ending in `…` when cut).
    pub input: String,
    /// What is wrong, for the ledger and the user.
    pub reason: String,
}

/// What a [`Source`] yields: a value of the run's kind in its normal form, or a bad row.
#[derive(Clone, Debug, PartialEq)]
pub enum Item<V> {
    Row(Row<V>),
    /// One bad row; reading goes on.
    Reject(Reject),
    /// The source cannot be read past this point (I/O error, corrupt or truncated gzip,
    /// runaway CSV record): yielded once, then the source ends.
    Broken(Reject),
}

/// Why an input cannot be read at all. Every message names the input and the fix.
#[derive(Debug, Error)]
pub enum InputError {
    #[error("{path}: no such file; check the path (give - to read standard input)")]
    NotFound { path: String },
    #[error("{path}: permission denied; make the file readable by this user")]
    PermissionDenied { path: String },
    #[error("{path}: is a directory; give the .csv/.jsonl files inside it instead")]
    IsDirectory { path: String },
    #[error("{path}: cannot open: {source}; check that it is a readable file")]
    Open { path: String, source: io::Error },
    #[error(
        "-: standard input needs --format csv|jsonl|plain (or --no-header for a plain list, \
         one value per line)"
    )]
    StdinNeedsFormat,
    #[error(
        "{path}: cannot tell the format from the extension; name it .csv, .tsv, .jsonl, \
         .ndjson or .txt (optionally + .gz), or give --format csv|jsonl|plain"
    )]
    UnknownFormat { path: String },
    #[error(
        "{path}: a spreadsheet, which blockade cannot read: export it to CSV (File → Save As → \
         CSV) and give the .csv file"
    )]
    Spreadsheet { path: String },
    #[error(
        "{path}: --no-header reads plain lists (one value per line), and JSON Lines have no \
         header; drop --no-header for this input"
    )]
    NoHeaderJsonl { path: String },
    #[error(
        "{path}: --block-till-field needs a CSV column or a JSONL key, and a plain list has \
         neither; give --block-till or --block-for"
    )]
    PlainHasNoFields { path: String },
    #[error("{path}: cannot read: {source}; check the file (a corrupt or truncated gzip?)")]
    Read { path: String, source: io::Error },
    #[error(
        "{path}: the first line (the CSV header) is longer than 1 MiB, so this does not look like \
         a CSV file (a binary file? a header of too many columns?); check the file, or give \
         --format jsonl if it is JSON Lines"
    )]
    HeaderTooLong { path: String },
    #[error("{path}: the input is empty{}; give a file with rows", empty_detail(.format))]
    Empty { path: String, format: Format },
    #[error(
        "{path}: no ID column in the CSV header: looked for {looked_for}, the header has: {columns}; \
         name the ID column with --id-field NAME{hint}"
    )]
    NoIdColumn {
        path: String,
        looked_for: String,
        columns: String,
        hint: String,
    },
    #[error(
        "{path}: --block-till-field `{field}` is not a column of the CSV header, which has: \
         {columns}; give an existing column name"
    )]
    NoBlockTillColumn {
        path: String,
        field: String,
        columns: String,
    },
    #[error(
        "{path}: no block-till for its rows; give --block-till TIME or --block-for DURATION, \
         or --block-till-field NAME for a per-row column"
    )]
    NoBlockTill { path: String },
    #[error(
        "--delimiter {delimiter:?} cannot separate CSV fields (it is a quote or a line break); \
         give another, such as ',' ';' or a tab"
    )]
    BadDelimiter { delimiter: char },
}

fn empty_detail(format: &Format) -> &'static str {
    match format {
        Format::Csv => " (a CSV needs a header row naming its columns)",
        Format::Jsonl | Format::Plain => "",
    }
}

/// A stream of [`Item`]s from one input. Reads lazily; memory stays bounded.
pub struct Source<K: Kind> {
    path: Arc<str>,
    format: Format,
    rows: Rows<K>,
}

enum Rows<K: Kind> {
    Csv(CsvRows<K>),
    Jsonl(JsonlRows<K>),
}

/// The byte stream a reader parses: a file, stdin or a gzip decoder over either.
type ByteStream = Box<dyn Read + Send>;

impl<K: Kind> Source<K> {
    /// The path as given to [`open`], or `<stdin>`.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Reads `reader` (gzip detected by its magic bytes) as `format`. `name` is the path shown
    /// in origins and errors. This is what [`open`] uses for files and stdin alike.
    pub fn from_reader(
        name: &str,
        reader: impl Read + Send + 'static,
        format: Format,
        opts: &ReadOptions,
        kind: K,
    ) -> Result<Source<K>, InputError> {
        let path: Arc<str> = Arc::from(name);
        let block_till = block_till_of(&path, opts)?;
        if format == Format::Plain && opts.block_till_field.is_some() {
            return Err(InputError::PlainHasNoFields {
                path: name.to_owned(),
            });
        }
        if matches!(opts.delimiter, b'"' | b'\n' | b'\r') && format == Format::Csv {
            return Err(InputError::BadDelimiter {
                delimiter: char::from(opts.delimiter),
            });
        }
        let stream = decompress_if_gzip(reader).map_err(|source| InputError::Read {
            path: name.to_owned(),
            source,
        })?;
        let rows = match format {
            Format::Csv => Rows::Csv(CsvRows::new(
                Arc::clone(&path),
                stream,
                opts,
                block_till,
                kind,
            )?),
            Format::Plain => {
                Rows::Csv(CsvRows::plain(Arc::clone(&path), stream, block_till, kind)?)
            }
            Format::Jsonl => Rows::Jsonl(JsonlRows::new(
                Arc::clone(&path),
                BufReader::with_capacity(READ_BUFFER_BYTES, stream),
                opts,
                block_till,
                kind,
            )?),
        };
        Ok(Source { path, format, rows })
    }
}

impl<K: Kind> Iterator for Source<K> {
    type Item = Item<K::Value>;

    #[inline]
    fn next(&mut self) -> Option<Item<K::Value>> {
        match &mut self.rows {
            Rows::Csv(rows) => rows.next(),
            Rows::Jsonl(rows) => rows.next(),
        }
    }
}

impl<K: Kind> fmt::Debug for Source<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("path", &self.path)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// How stdin is named in origins (`<stdin>:17`).
pub const STDIN_NAME: &str = "<stdin>";

/// Opens one input: a path, or `-` for stdin. Checks everything that can be checked before
/// any row is used (see the module doc) and returns an [`InputError`] otherwise.
pub fn open<K: Kind>(input: &str, opts: &ReadOptions, kind: K) -> Result<Source<K>, InputError> {
    if input == "-" {
        let format = match (opts.format, opts.no_header) {
            (Some(Format::Jsonl), true) => {
                return Err(InputError::NoHeaderJsonl {
                    path: input.to_owned(),
                });
            }
            (_, true) => Format::Plain,
            (Some(format), false) => format,
            (None, false) => return Err(InputError::StdinNeedsFormat),
        };
        return Source::from_reader(STDIN_NAME, io::stdin(), format, opts, kind);
    }
    if is_spreadsheet(input) {
        return Err(InputError::Spreadsheet {
            path: input.to_owned(),
        });
    }
    let format = opts
        .format
        .or_else(|| format_from_extension(input))
        .or(opts.no_header.then_some(Format::Plain))
        .ok_or_else(|| InputError::UnknownFormat {
            path: input.to_owned(),
        })?;
    let format = match (format, opts.no_header) {
        (Format::Jsonl, true) => {
            return Err(InputError::NoHeaderJsonl {
                path: input.to_owned(),
            });
        }
        (_, true) => Format::Plain,
        (format, false) => format,
    };
    let file = open_file(input)?;
    if format == Format::Csv && !opts.delimiter_set && is_tsv(input) {
        let tabbed = ReadOptions {
            delimiter: b'\t',
            ..opts.clone()
        };
        return Source::from_reader(input, file, format, &tabbed, kind);
    }
    Source::from_reader(input, file, format, opts, kind)
}

/// The path without a final `.gz`, lowercased.
fn stem_of(path: &str) -> String {
    let lower = path.to_ascii_lowercase();
    match lower.strip_suffix(".gz") {
        Some(stem) => stem.to_owned(),
        None => lower,
    }
}

/// `.tsv` (optionally + `.gz`): CSV with a tab between fields.
fn is_tsv(path: &str) -> bool {
    stem_of(path).ends_with(".tsv")
}

/// Spreadsheet files, which need exporting to CSV first (issue 12).
fn is_spreadsheet(path: &str) -> bool {
    let stem = stem_of(path);
    [".xlsx", ".xlsm", ".xls", ".ods", ".numbers"]
        .iter()
        .any(|ext| stem.ends_with(ext))
}

/// The format named by a path's extension: `.csv` or `.tsv`, `.jsonl` or `.ndjson`, `.txt`,
/// each optionally followed by `.gz` (any letter case).
pub fn format_from_extension(path: &str) -> Option<Format> {
    let stem = stem_of(path);
    if stem.ends_with(".csv") || stem.ends_with(".tsv") {
        Some(Format::Csv)
    } else if stem.ends_with(".jsonl") || stem.ends_with(".ndjson") {
        Some(Format::Jsonl)
    } else if stem.ends_with(".txt") {
        Some(Format::Plain)
    } else {
        None
    }
}

fn open_file(path: &str) -> Result<File, InputError> {
    let owned = || path.to_owned();
    // Opening a directory succeeds on Unix and only fails at the first read, with a
    // confusing "Is a directory (os error 21)"; ask first so the message can say what to do.
    if std::fs::metadata(path).is_ok_and(|meta| meta.is_dir()) {
        return Err(InputError::IsDirectory { path: owned() });
    }
    File::open(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => InputError::NotFound { path: owned() },
        io::ErrorKind::PermissionDenied => InputError::PermissionDenied { path: owned() },
        io::ErrorKind::IsADirectory => InputError::IsDirectory { path: owned() },
        _ => InputError::Open {
            path: owned(),
            source,
        },
    })
}

fn block_till_of(path: &str, opts: &ReadOptions) -> Result<BlockTill, InputError> {
    match (&opts.block_till_field, opts.default_block_till) {
        (Some(field), default) => Ok(BlockTill::PerRow {
            field: field.clone(),
            default,
        }),
        (None, Some(at)) => Ok(BlockTill::Fixed(at)),
        (None, None) => Err(InputError::NoBlockTill {
            path: path.to_owned(),
        }),
    }
}

/// Reads up to two bytes to look for the gzip magic number (1f 8b), then returns a stream
/// that yields the whole input again, decompressed if it was gzip. Sniffing instead of
/// trusting the extension lets a gzip without `.gz` (and gzipped stdin) work.
fn decompress_if_gzip(mut reader: impl Read + Send + 'static) -> io::Result<ByteStream> {
    let mut magic = [0u8; 2];
    let mut filled = 0;
    while filled < magic.len() {
        match reader.read(&mut magic[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    let whole = io::Cursor::new(magic[..filled].to_vec()).chain(reader);
    if magic[..filled] == [0x1f, 0x8b] {
        // MultiGzDecoder, not GzDecoder: concatenated gzip members (`cat a.gz b.gz`, pigz,
        // bgzip) are one valid gzip file, and GzDecoder would stop after the first member.
        Ok(Box::new(MultiGzDecoder::new(BufReader::with_capacity(
            READ_BUFFER_BYTES,
            whole,
        ))))
    } else {
        Ok(Box::new(whole))
    }
}
