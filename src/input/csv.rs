//! CSV reader: a header row, then one value per record (the value column's), for any kind
//! of value (`values::Kind`); a plain list is read by the same code with no header.
//!
//! Two paths over one buffer:
//! - Fast path, for a physical line without a `"` (nearly every line of a real export): the
//!   line is found with `memchr`, split on the delimiter in place and a contact ID parsed
//!   straight from the bytes. No copy, no allocation, no UTF-8 pass unless the ID is
//!   unusual (then [`parse_id`] gives the exact reject reason); other kinds of value go
//!   through their kind's `parse`. In a one-column file a line of digits is
//!   found and parsed in a single pass ([`Records::digits_line`]), inlined into the caller.
//! - Slow path, for a line with a `"` (or longer than the read buffer): the record is parsed
//!   by `csv_core`'s state machine from the start of that line, so quoted delimiters, `""`
//!   and quoted line breaks read exactly as the `csv` crate reads them.
//!
//! Constraints kept:
//! - Hot loop: a valid row costs no heap allocation; allocation happens only for rejects.
//! - Line numbers: a row's origin is the physical line where its record starts, whatever
//!   blank lines come before it and however many lines a quoted field spans.
//! - Bounded memory: a 64 KiB read buffer, plus, for quoted or very long records, field
//!   buffers sized by the record, which [`MAX_RECORD_BYTES`] caps; a longer record (an
//!   unclosed quote?) ends the source with `Item::Broken` naming the line it starts on.
//! - A header of a million columns costs no allocation per column: names are looked at in
//!   place in the header record, never collected (see [`header_name`]).
//! - Wrong field counts become a `Reject` with the line; reading goes on.
//! - Blank lines (`\n` or `\r\n`) are skipped; a `\r` before `\n` is not part of the row
//!   (trimming removes it from the last field, and the reject snippet leaves it out).
//! - A UTF-8 BOM at the very start of the input is dropped.

use std::borrow::Cow;
use std::io::{self, Read};
use std::sync::Arc;

use ::csv::ByteRecord;
use chrono::{DateTime, Utc};
use csv_core::{ReadRecordResult, Reader as CoreReader, ReaderBuilder as CoreBuilder, Terminator};

use super::READ_BUFFER_BYTES;
use super::cell::{BlockTill, Snippet, field_names};
use super::{ByteStream, InputError, Item, Origin, ReadOptions, Reject, Row};
use crate::values::Kind;
use crate::values::id::parse_id;
use crate::values::text::clip_str;

/// Most bytes one CSV record may span (header or row), not counting its final line break.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Columns named in an error message before the list is cut.
const MAX_COLUMNS_SHOWN: usize = 20;
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The CSV rows of one source.
pub struct CsvRows<K: Kind> {
    records: Records,
    check: Check<K>,
    done: bool,
}

/// What turns one record into a `Row` or a `Reject`: the header's layout and the options.
struct Check<K: Kind> {
    path: Arc<str>,
    field_count: usize,
    id_column: usize,
    block_till_column: Option<usize>,
    block_till: BlockTill,
    /// The block-till of every row, when not per row.
    fixed_till: Option<DateTime<Utc>>,
    /// A one-column file without per-row block-till, whose delimiter cannot be a digit:
    /// a line of digits is then the whole record and its ID.
    digits_line: bool,
    delimiter: u8,
    /// A plain list (`--no-header`, `.txt`): one value per line.
    plain: bool,
    /// What the values are: contact IDs, or strings (then `digits_line` is off).
    kind: K,
}

impl<K: Kind> CsvRows<K> {
    /// Reads and checks the header row; the data rows are read on iteration.
    pub fn new(
        path: Arc<str>,
        stream: ByteStream,
        opts: &ReadOptions,
        block_till: BlockTill,
        kind: K,
    ) -> Result<CsvRows<K>, InputError> {
        let read_error = |source| InputError::Read {
            path: path.to_string(),
            source,
        };
        let mut records = Records::new(stream, opts.delimiter, true).map_err(read_error)?;
        let header = loop {
            let header = match records.next() {
                Next::Plain { start, len, .. } => {
                    plain_record(&records.buf[start..start + len], opts.delimiter)
                }
                Next::Quoted { .. } => records.quoted_record(),
                Next::End => {
                    return Err(InputError::Empty {
                        path: path.to_string(),
                        format: super::Format::Csv,
                    });
                }
                Next::TooLong { .. } => {
                    return Err(InputError::HeaderTooLong {
                        path: path.to_string(),
                    });
                }
                Next::Failed { err, .. } => return Err(read_error(err)),
            };
            // Blank lines before the header (a BOM alone on a line included).
            let blank = header.len() == 1
                && matches!(
                    header.get(0),
                    Some(b"\r" | b"\xEF\xBB\xBF" | b"\xEF\xBB\xBF\r")
                );
            if !blank {
                break header;
            }
        };
        let columns = || column_list(&header);

        let (id_column, looked_for) = match &opts.id_field {
            Some(field) => (
                find_column(&header, field),
                format!("`{field}` (--id-field)"),
            ),
            None => (
                kind.value_type()
                    .default_fields()
                    .iter()
                    .find_map(|field| find_column(&header, field)),
                field_names(kind.value_type().default_fields()),
            ),
        };
        let id_column = id_column.ok_or_else(|| InputError::NoIdColumn {
            path: path.to_string(),
            looked_for,
            columns: columns(),
            hint: header_hint(&header, opts.delimiter),
        })?;

        let block_till_column = match &block_till {
            BlockTill::Fixed(_) => None,
            BlockTill::PerRow { field, .. } => Some(find_column(&header, field).ok_or_else(
                || InputError::NoBlockTillColumn {
                    path: path.to_string(),
                    field: field.clone(),
                    columns: columns(),
                },
            )?),
        };
        let fixed_till = match block_till {
            BlockTill::Fixed(at) => Some(at),
            BlockTill::PerRow { .. } => None,
        };

        Ok(CsvRows {
            records,
            check: Check {
                path,
                field_count: header.len(),
                id_column,
                block_till_column,
                block_till,
                fixed_till,
                digits_line: header.len() == 1
                    && fixed_till.is_some()
                    && !opts.delimiter.is_ascii_digit()
                    && K::WHOLE_NUMBERS,
                delimiter: opts.delimiter,
                plain: false,
                kind,
            },
            done: false,
        })
    }

    /// A plain list: no header, one value per line, the whole line (trimmed) the value.
    /// Quotes are ordinary characters, so an unbalanced `"` cannot swallow the lines after it.
    pub fn plain(
        path: Arc<str>,
        stream: ByteStream,
        block_till: BlockTill,
        kind: K,
    ) -> Result<CsvRows<K>, InputError> {
        let BlockTill::Fixed(at) = block_till else {
            return Err(InputError::PlainHasNoFields {
                path: path.to_string(),
            });
        };
        let records =
            Records::new(stream, PLAIN_DELIMITER, false).map_err(|source| InputError::Read {
                path: path.to_string(),
                source,
            })?;
        if records.eof && records.pos == records.end {
            return Err(InputError::Empty {
                path: path.to_string(),
                format: super::Format::Plain,
            });
        }
        Ok(CsvRows {
            records,
            check: Check {
                path,
                field_count: 1,
                id_column: 0,
                block_till_column: None,
                block_till,
                fixed_till: Some(at),
                digits_line: K::WHOLE_NUMBERS,
                delimiter: PLAIN_DELIMITER,
                plain: true,
                kind,
            },
            done: false,
        })
    }
}

/// The "delimiter" of a plain list: a byte no text line holds, so a line is one field.
const PLAIN_DELIMITER: u8 = 0;

impl<K: Kind> Iterator for CsvRows<K> {
    type Item = Item<K::Value>;

    /// The common line (digits and a line break, in a one-column file) is handled here,
    /// small enough to inline; everything else in [`CsvRows::next_record`].
    #[inline]
    fn next(&mut self) -> Option<Item<K::Value>> {
        if self.check.digits_line
            && let Some(at) = self.check.fixed_till
            && let Some((id, line)) = self.records.digits_line()
            && let Some(value) = self.check.kind.whole_number(id)
        {
            return Some(Item::Row(Row {
                value,
                block_till: at,
                origin: self.check.origin(line),
            }));
        }
        self.next_record()
    }
}

impl<K: Kind> CsvRows<K> {
    #[inline(never)]
    fn next_record(&mut self) -> Option<Item<K::Value>> {
        while !self.done {
            match self.records.next() {
                Next::Plain { start, len, line } => {
                    return Some(
                        self.check
                            .plain(&self.records.buf[start..start + len], line),
                    );
                }
                Next::Quoted { line } => {
                    let fields = self.records.fields();
                    // A quoted `\r` alone reads like a blank CRLF line: skipped the same way.
                    if fields.ends.len() == 1 && fields.data == b"\r" {
                        continue;
                    }
                    return Some(self.check.quoted(&fields, line));
                }
                Next::End => self.done = true,
                Next::TooLong { line } => {
                    self.done = true;
                    return Some(self.check.broken(
                        line,
                        format!(
                            "a CSV record from line {line} on is longer than 1 MiB (an unclosed \
                             quote?); the rest of the file was not read: fix the file and run again"
                        ),
                    ));
                }
                Next::Failed { line, err } => {
                    self.done = true;
                    return Some(self.check.broken(
                        line,
                        format!(
                            "cannot read past line {line}: {err}; the rest of the file was not read \
                             (a truncated or corrupt gzip, or an I/O error): fix or replace the file \
                             and run again"
                        ),
                    ));
                }
            }
        }
        None
    }
}

impl<K: Kind> Check<K> {
    fn origin(&self, line: u64) -> Origin {
        Origin {
            path: Arc::clone(&self.path),
            line,
        }
    }

    /// A physical line without quotes (no line break, a final `\r` kept) as a record.
    #[inline]
    fn plain(&self, text: &[u8], line: u64) -> Item<K::Value> {
        if self.digits_line
            && let Some(at) = self.fixed_till
        {
            let digits = text.strip_suffix(b"\r").unwrap_or(text);
            if let Some(value) = plain_digits(digits).and_then(|id| self.kind.whole_number(id)) {
                return Item::Row(Row {
                    value,
                    block_till: at,
                    origin: self.origin(line),
                });
            }
        }
        let mut found = 1;
        let mut start = 0;
        let mut id = None;
        let mut till = None;
        for at in memchr::memchr_iter(self.delimiter, text).chain([text.len()]) {
            let index = found - 1;
            if index == self.id_column {
                id = Some(&text[start..at]);
            }
            if Some(index) == self.block_till_column {
                till = Some(&text[start..at]);
            }
            start = at + 1;
            found += 1;
        }
        found -= 1;
        let snippet = || {
            let mut snippet = Snippet::default();
            // The `\r` of a CRLF line ending is not part of the row's text.
            snippet.push(text.strip_suffix(b"\r").unwrap_or(text));
            snippet
        };
        self.record(found, id.unwrap_or_default(), till, line, snippet)
    }

    /// A record parsed by the state machine.
    fn quoted(&self, fields: &Fields<'_>, line: u64) -> Item<K::Value> {
        let raw_id = fields.get(self.id_column).unwrap_or_default();
        let till = self.block_till_column.and_then(|column| fields.get(column));
        let snippet = || {
            let mut snippet = Snippet::default();
            let last = fields.ends.len().saturating_sub(1);
            for index in 0..fields.ends.len() {
                if index > 0 {
                    snippet.push(&[self.delimiter]);
                }
                let field = fields.get(index).unwrap_or_default();
                // The `\r` of a CRLF line ending is not part of the row's text.
                let field = match field.strip_suffix(b"\r") {
                    Some(trimmed) if index == last => trimmed,
                    _ => field,
                };
                snippet.push(field);
            }
            snippet
        };
        self.record(fields.ends.len(), raw_id, till, line, snippet)
    }

    /// The checks shared by both paths, in the order the reasons take precedence.
    fn record(
        &self,
        found: usize,
        raw_id: &[u8],
        raw_till: Option<&[u8]>,
        line: u64,
        snippet: impl FnOnce() -> Snippet,
    ) -> Item<K::Value> {
        let reject = |reason: String| {
            Item::Reject(Reject {
                origin: self.origin(line),
                input: snippet().finish(),
                reason,
            })
        };
        if found != self.field_count && self.plain {
            return reject("the line holds a NUL byte: is this a text file?".to_owned());
        }
        if found != self.field_count {
            return reject(format!(
                "expected {} fields, found {found} (quote values that contain the delimiter)",
                self.field_count
            ));
        }
        let fast = if K::WHOLE_NUMBERS {
            plain_digits(raw_id.trim_ascii()).and_then(|id| self.kind.whole_number(id))
        } else {
            None
        };
        let value = match fast {
            Some(value) => value,
            None => {
                let Ok(text) = std::str::from_utf8(raw_id) else {
                    return reject(format!(
                        "{} is not valid UTF-8",
                        self.kind.value_type().noun()
                    ));
                };
                match self.kind.parse(text) {
                    Ok(value) => value,
                    Err(reason) => return reject(reason),
                }
            }
        };
        let block_till = match self.fixed_till {
            Some(at) => at,
            None => {
                let till_text = match raw_till {
                    None => None,
                    Some(raw) => match std::str::from_utf8(raw) {
                        Ok(text) => Some(text),
                        Err(_) => return reject("block-till is not valid UTF-8".to_owned()),
                    },
                };
                match self.block_till.resolve(till_text) {
                    Ok(at) => at,
                    Err(reason) => return reject(reason),
                }
            }
        };
        Item::Row(Row {
            value,
            block_till,
            origin: self.origin(line),
        })
    }

    fn broken(&self, line: u64, reason: String) -> Item<K::Value> {
        Item::Broken(Reject {
            origin: self.origin(line),
            input: String::new(),
            reason,
        })
    }
}

/// An ID of plain ASCII digits (at most 19, so no overflow is possible) that is not zero;
/// `None` for anything else, which [`parse_id`] then judges.
#[inline]
fn plain_digits(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 19 {
        return None;
    }
    let mut value = 0u64;
    for &byte in bytes {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + u64::from(digit);
    }
    (value != 0).then_some(value)
}

/// The header line without quotes, as a record.
fn plain_record(text: &[u8], delimiter: u8) -> ByteRecord {
    let mut record = ByteRecord::new();
    for field in text.split(|&byte| byte == delimiter) {
        record.push_field(field);
    }
    record
}

/// The fields of the record the state machine read last.
struct Fields<'a> {
    data: &'a [u8],
    ends: &'a [usize],
}

impl<'a> Fields<'a> {
    fn get(&self, index: usize) -> Option<&'a [u8]> {
        let end = *self.ends.get(index)?;
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        self.data.get(start..end)
    }
}

/// What [`Records::next`] found.
enum Next {
    /// A physical line without a quote: `buf[start..start + len]`, without its `\n`.
    Plain {
        start: usize,
        len: usize,
        line: u64,
    },
    /// A record read by the state machine (see [`Records::fields`]).
    Quoted {
        line: u64,
    },
    End,
    /// The record starting at `line` is longer than [`MAX_RECORD_BYTES`].
    TooLong {
        line: u64,
    },
    /// The input failed while reading the record starting at `line`.
    Failed {
        line: u64,
        err: io::Error,
    },
}

/// Splits the input into records: physical lines where possible, the state machine where
/// a line has a quote. Tracks the physical line of every record.
struct Records {
    stream: ByteStream,
    buf: Box<[u8]>,
    /// Start of the unread data in `buf`.
    pos: usize,
    /// End of the data in `buf`.
    end: usize,
    eof: bool,
    /// Physical line (1-based) of `buf[pos]`.
    line: u64,
    /// Bytes from `pos` already searched for the end of the current line (so that a line
    /// arriving a byte at a time is not searched again from its start on every read).
    searched: usize,
    /// Boxed: its transition table is most of a kilobyte, and only quoted records use it.
    core: Box<CoreReader>,
    /// Field bytes and ends of the last quoted record; only `out[..out_len]` is data.
    out: Vec<u8>,
    out_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
}

impl Records {
    fn new(stream: ByteStream, delimiter: u8, quoting: bool) -> io::Result<Records> {
        let mut core = CoreBuilder::new()
            .delimiter(delimiter)
            .quoting(quoting)
            // Only `\n` ends a record; a `\r` before it stays at the end of the last field,
            // as on the fast path.
            .terminator(Terminator::Any(b'\n'))
            .build();
        // The state machine strips a BOM from the first input it ever sees; that must not
        // happen in the middle of a file (the start of the file is handled below), so it
        // sees a blank line first, which it skips.
        core.read_record(b"\n", &mut [0; 1], &mut [0; 1]);
        let mut records = Records {
            stream,
            buf: vec![0; READ_BUFFER_BYTES].into_boxed_slice(),
            pos: 0,
            end: 0,
            eof: false,
            line: 1,
            searched: 0,
            core: Box::new(core),
            out: vec![0; 1024],
            out_len: 0,
            ends: vec![0; 16],
            ends_len: 0,
        };
        // A BOM may arrive split over reads (the gzip sniffing hands over two bytes first).
        while records.end < BOM.len() && !records.eof {
            records.fill()?;
        }
        if records.buf[..records.end].starts_with(BOM) {
            records.pos = BOM.len();
        }
        Ok(records)
    }

    /// The next record, blank lines skipped.
    #[inline]
    fn next(&mut self) -> Next {
        loop {
            let from = self.pos + self.searched;
            match memchr::memchr2(b'\n', b'"', &self.buf[from..self.end]) {
                Some(offset) if self.buf[from + offset] == b'\n' => {
                    let (start, len, line) = (self.pos, self.searched + offset, self.line);
                    self.pos = from + offset + 1;
                    self.searched = 0;
                    self.line += 1;
                    if !is_blank(&self.buf[start..start + len]) {
                        return Next::Plain { start, len, line };
                    }
                }
                Some(_) => return self.quoted(),
                None => {
                    self.searched = self.end - self.pos;
                    if self.eof {
                        // The last line, without a line break.
                        let (start, len) = (self.pos, self.searched);
                        self.pos = self.end;
                        self.searched = 0;
                        if len == 0 {
                            return Next::End;
                        }
                        if !is_blank(&self.buf[start..start + len]) {
                            return Next::Plain {
                                start,
                                len,
                                line: self.line,
                            };
                        }
                    } else if self.pos == 0 && self.end == self.buf.len() {
                        // A line longer than the buffer: the state machine streams it.
                        return self.quoted();
                    } else if let Err(err) = self.fill() {
                        return Next::Failed {
                            line: self.line,
                            err,
                        };
                    }
                }
            }
        }
    }

    /// The next line, if it is 1 to 19 ASCII digits (no overflow possible) then `\n` or
    /// `\r\n`, wholly in the buffer, and not zero: its value and line number. Anything else
    /// is left for [`Records::next`].
    #[inline]
    fn digits_line(&mut self) -> Option<(u64, u64)> {
        if self.searched != 0 {
            return None;
        }
        let rest = &self.buf[self.pos..self.end];
        let mut value = 0u64;
        let mut index = 0;
        while index < rest.len() {
            let byte = rest[index];
            let digit = byte.wrapping_sub(b'0');
            if digit <= 9 && index < 19 {
                value = value * 10 + u64::from(digit);
                index += 1;
                continue;
            }
            let ending = match byte {
                b'\n' => 1,
                b'\r' if rest.get(index + 1) == Some(&b'\n') => 2,
                _ => return None,
            };
            if value == 0 {
                return None;
            }
            let line = self.line;
            self.pos += index + ending;
            self.line += 1;
            return Some((value, line));
        }
        None
    }

    /// Reads the record starting at `pos` with the state machine.
    #[cold]
    fn quoted(&mut self) -> Next {
        let line = self.line;
        let lines_before = self.core.line();
        self.searched = 0;
        self.out_len = 0;
        self.ends_len = 0;
        let mut used = 0usize;
        loop {
            if self.pos == self.end && !self.eof {
                if let Err(err) = self.fill() {
                    return Next::Failed { line, err };
                }
                continue;
            }
            if self.out_len == self.out.len() {
                self.out.resize(self.out.len() * 2, 0);
            }
            if self.ends_len == self.ends.len() {
                self.ends.resize(self.ends.len() * 2, 0);
            }
            let (result, read, written, ended) = self.core.read_record(
                &self.buf[self.pos..self.end],
                &mut self.out[self.out_len..],
                &mut self.ends[self.ends_len..],
            );
            self.pos += read;
            used += read;
            self.out_len += written;
            self.ends_len += ended;
            match result {
                ReadRecordResult::Record => {
                    self.line = line + (self.core.line() - lines_before);
                    // A record read from input ended with its `\n`; at the end of the input
                    // it ends without one.
                    let span = used - usize::from(read > 0);
                    if span > MAX_RECORD_BYTES {
                        return Next::TooLong { line };
                    }
                    return Next::Quoted { line };
                }
                ReadRecordResult::End => return Next::End,
                ReadRecordResult::InputEmpty if used > MAX_RECORD_BYTES => {
                    return Next::TooLong { line };
                }
                ReadRecordResult::InputEmpty
                | ReadRecordResult::OutputFull
                | ReadRecordResult::OutputEndsFull => {}
            }
        }
    }

    /// The fields of the record [`Records::quoted`] read last.
    fn fields(&self) -> Fields<'_> {
        Fields {
            data: &self.out[..self.out_len],
            ends: &self.ends[..self.ends_len],
        }
    }

    fn quoted_record(&self) -> ByteRecord {
        let fields = self.fields();
        let mut record = ByteRecord::with_capacity(fields.data.len(), fields.ends.len());
        for index in 0..fields.ends.len() {
            record.push_field(fields.get(index).unwrap_or_default());
        }
        record
    }

    /// Moves the unread bytes to the front of the buffer and reads more after them. Needs
    /// room in the buffer once moved (a full buffer goes to the state machine instead).
    fn fill(&mut self) -> io::Result<()> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        loop {
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(read) => {
                    self.end += read;
                    return Ok(());
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    }
}

/// A blank line: nothing, or only the `\r` of a CRLF line ending.
#[inline]
fn is_blank(line: &[u8]) -> bool {
    matches!(line, b"" | b"\r")
}

/// Header names as matched: lossy UTF-8, a leading BOM removed, whitespace trimmed. Lazy,
/// and borrowed unless a name is not valid UTF-8: a hostile header of a million columns
/// must not become a million `String`s (24 MB of `Vec<String>` before any row is read).
fn header_names(header: &ByteRecord) -> impl Iterator<Item = Cow<'_, str>> {
    header
        .iter()
        .enumerate()
        .map(|(index, raw)| header_name(index, raw))
}

fn header_name(index: usize, raw: &[u8]) -> Cow<'_, str> {
    let raw = match raw.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) if index == 0 => rest,
        _ => raw,
    };
    match String::from_utf8_lossy(raw) {
        Cow::Borrowed(name) => Cow::Borrowed(name.trim()),
        Cow::Owned(name) => Cow::Owned(name.trim().to_owned()),
    }
}

/// The column named `wanted`: an exact match first, else one that differs only in ASCII case.
fn find_column(header: &ByteRecord, wanted: &str) -> Option<usize> {
    header_names(header)
        .position(|name| name == wanted)
        .or_else(|| header_names(header).position(|name| name.eq_ignore_ascii_case(wanted)))
}

fn column_list(header: &ByteRecord) -> String {
    let mut list: Vec<String> = header_names(header)
        .take(MAX_COLUMNS_SHOWN)
        .map(|name| format!("`{}`", clip_str(&name, 40)))
        .collect();
    if header.len() > MAX_COLUMNS_SHOWN {
        list.push(format!("… ({} columns in all)", header.len()));
    }
    list.join(", ")
}

/// A guess at why the header has no ID column, to add to the error.
fn header_hint(header: &ByteRecord, delimiter: u8) -> String {
    let binary = header
        .iter()
        .any(|raw| raw.contains(&0) || std::str::from_utf8(raw).is_err());
    if binary {
        return " (the first line is not text: is this really a CSV file?)".to_owned();
    }
    // A contact ID, an email or an IP address: whatever the type, a column name never is.
    let is_value = |name: &str| {
        parse_id(name).is_ok()
            || crate::values::text::normalize_email(name).is_ok()
            || crate::values::text::normalize_ip(name).is_ok()
    };
    if header_names(header).any(|name| is_value(&name)) {
        // As xsv says it: a first line that is itself a value is data, not a header.
        if header.len() == 1 {
            return " (the file seems to have no header: its first line is itself a value; for \
                    a plain list, one value per line, pass --no-header)"
                .to_owned();
        }
        return " (the file seems to have no header: its first line looks like data; add a header \
                row naming the columns)"
            .to_owned();
    }
    if header.len() == 1
        && let Some(only) = header_names(header).next()
    {
        let other = [b',', b';', b'\t', b'|']
            .into_iter()
            .find(|&sep| sep != delimiter && only.as_bytes().contains(&sep));
        if let Some(sep) = other {
            return format!(
                " (the header is one column containing {:?}: is the delimiter {:?}? give --delimiter)",
                char::from(sep),
                char::from(sep)
            );
        }
    }
    String::new()
}
