//! CSV reader: a header row, then one contact per record.
//!
//! Constraints kept:
//! - Hot loop: one reused `csv::ByteRecord`; a valid row costs no heap allocation (the ID and
//!   block-till are checked in place as `&str`). Allocation happens only for rejects.
//! - Bounded memory: the csv crate grows its record buffer without limit, so an unclosed
//!   quote would pull the rest of a file into one record. [`RecordBudget`] caps the bytes one
//!   record may read at [`MAX_RECORD_BYTES`]; past it the source ends with `Item::Broken`.
//! - A header of a million columns costs no allocation per column: names are looked at in
//!   place in the header record, never collected (see [`header_name`]).
//! - Wrong field counts are found here (the reader is `flexible`) so they become a `Reject`
//!   with the line, instead of an error from the csv crate.

use std::borrow::Cow;
use std::io::{self, Read};
use std::sync::Arc;

use ::csv::{ByteRecord, Reader, ReaderBuilder, Terminator};

use super::cell::{BlockTill, Snippet, clip_str, id_reason};
use super::{ByteStream, DEFAULT_ID_FIELDS, InputError, Item, Origin, ReadOptions, Reject, Row};
use super::{READ_BUFFER_BYTES, parse_id};

/// Most bytes one CSV record may span (header or row).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Columns named in an error message before the list is cut.
const MAX_COLUMNS_SHOWN: usize = 20;

/// The CSV rows of one source.
pub struct CsvRows {
    path: Arc<str>,
    reader: Reader<RecordBudget<ByteStream>>,
    record: ByteRecord,
    field_count: usize,
    id_column: usize,
    block_till_column: Option<usize>,
    block_till: BlockTill,
    delimiter: u8,
    done: bool,
}

impl CsvRows {
    /// Reads and checks the header row; the data rows are read on iteration.
    pub fn new(
        path: Arc<str>,
        stream: ByteStream,
        opts: &ReadOptions,
        block_till: BlockTill,
    ) -> Result<CsvRows, InputError> {
        // Headers are read as an ordinary first record so that BOM, trimming and the
        // field-count check are all under our control.
        let mut reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(opts.delimiter)
            // Only `\n` ends a record. With the default (`\r`, `\n` or `\r\n`) the csv crate
            // reports the line of a CRLF file's records one too low; here a `\r` stays at the
            // end of the last field instead, where trimming removes it.
            .terminator(Terminator::Any(b'\n'))
            .buffer_capacity(READ_BUFFER_BYTES)
            .from_reader(RecordBudget::new(stream));
        let mut header = ByteRecord::new();
        let header_read = loop {
            match reader.read_byte_record(&mut header) {
                // Blank lines before the header (a BOM alone on the first line included).
                Ok(true)
                    if header.len() == 1
                        && matches!(
                            header.get(0),
                            Some(b"\r" | b"\xEF\xBB\xBF" | b"\xEF\xBB\xBF\r")
                        ) => {}
                other => break other,
            }
        };
        match header_read {
            Ok(true) => {}
            Ok(false) => {
                return Err(InputError::Empty {
                    path: path.to_string(),
                    format: super::Format::Csv,
                });
            }
            Err(_) if reader.get_ref().exceeded => {
                return Err(InputError::HeaderTooLong {
                    path: path.to_string(),
                });
            }
            Err(err) => {
                return Err(InputError::Read {
                    path: path.to_string(),
                    source: io::Error::from(err),
                });
            }
        }
        let columns = || column_list(&header);

        let (id_column, looked_for) = match &opts.id_field {
            Some(field) => (
                find_column(&header, field),
                format!("`{field}` (--id-field)"),
            ),
            None => (
                DEFAULT_ID_FIELDS
                    .iter()
                    .find_map(|field| find_column(&header, field)),
                "`id`, `contact_id` or `contactId`".to_owned(),
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

        Ok(CsvRows {
            path,
            reader,
            record: ByteRecord::new(),
            field_count: header.len(),
            id_column,
            block_till_column,
            block_till,
            delimiter: opts.delimiter,
            done: false,
        })
    }

    fn origin(&self, line: u64) -> Origin {
        Origin {
            path: Arc::clone(&self.path),
            line,
        }
    }

    /// Turns the record just read into a `Row` or a `Reject`.
    fn check_record(&self) -> Item {
        let line = self.record.position().map_or(0, |pos| pos.line());
        let found = self.record.len();
        if found != self.field_count {
            return self.reject(
                line,
                format!(
                    "expected {} fields, found {found} (quote values that contain the delimiter)",
                    self.field_count
                ),
            );
        }
        let raw_id = self.record.get(self.id_column).unwrap_or_default();
        let Ok(id_text) = std::str::from_utf8(raw_id) else {
            return self.reject(line, "ID is not valid UTF-8".to_owned());
        };
        let id = match parse_id(id_text) {
            Ok(id) => id,
            Err(err) => return self.reject(line, id_reason(id_text, &err)),
        };
        let till_text = match self.block_till_column.map(|column| self.record.get(column)) {
            None | Some(None) => None,
            Some(Some(raw)) => match std::str::from_utf8(raw) {
                Ok(text) => Some(text),
                Err(_) => return self.reject(line, "block-till is not valid UTF-8".to_owned()),
            },
        };
        match self.block_till.resolve(till_text) {
            Ok(block_till) => Item::Row(Row {
                id,
                block_till,
                origin: self.origin(line),
            }),
            Err(reason) => self.reject(line, reason),
        }
    }

    fn reject(&self, line: u64, reason: String) -> Item {
        let mut snippet = Snippet::default();
        let last = self.record.len().saturating_sub(1);
        for (index, field) in self.record.iter().enumerate() {
            if index > 0 {
                snippet.push(&[self.delimiter]);
            }
            // The `\r` of a CRLF line ending is not part of the row's text.
            let field = match field.strip_suffix(b"\r") {
                Some(trimmed) if index == last => trimmed,
                _ => field,
            };
            snippet.push(field);
        }
        Item::Reject(Reject {
            origin: self.origin(line),
            input: snippet.finish(),
            reason,
        })
    }

    fn broken(&self, err: &::csv::Error) -> Item {
        let line = self.reader.position().line();
        let reason = if self.reader.get_ref().exceeded {
            format!(
                "a CSV record from line {line} on is longer than 1 MiB (an unclosed quote?); \
                 the rest of the file was not read: fix the file and run again"
            )
        } else {
            format!(
                "cannot read past line {line}: {err}; the rest of the file was not read \
                 (a truncated or corrupt gzip, or an I/O error): fix or replace the file and run again"
            )
        };
        Item::Broken(Reject {
            origin: self.origin(line),
            input: String::new(),
            reason,
        })
    }
}

impl Iterator for CsvRows {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        while !self.done {
            self.reader.get_mut().start_record();
            match self.reader.read_byte_record(&mut self.record) {
                // A blank CRLF line reads as one field holding `\r`: skip it like a blank line.
                Ok(true) if is_blank_crlf_line(&self.record) => {}
                Ok(true) => return Some(self.check_record()),
                Ok(false) => self.done = true,
                Err(err) => {
                    self.done = true;
                    return Some(self.broken(&err));
                }
            }
        }
        None
    }
}

fn is_blank_crlf_line(record: &ByteRecord) -> bool {
    record.len() == 1 && record.get(0) == Some(b"\r".as_slice())
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
    if header_names(header).any(|name| parse_id(&name).is_ok()) {
        return " (the first line looks like data: the file needs a header row naming its columns)"
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

/// Caps how many bytes the csv reader may pull from the source for one record.
///
/// Reset by [`RecordBudget::start_record`] before each record. The csv reader reads ahead
/// in blocks, so the count is approximate (off by at most one read buffer), which is fine
/// for a guard against runaway records.
pub struct RecordBudget<R> {
    inner: R,
    used: usize,
    exceeded: bool,
}

impl<R> RecordBudget<R> {
    fn new(inner: R) -> Self {
        RecordBudget {
            inner,
            used: 0,
            exceeded: false,
        }
    }

    fn start_record(&mut self) {
        self.used = 0;
    }
}

impl<R: Read> Read for RecordBudget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.used >= MAX_RECORD_BYTES {
            self.exceeded = true;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "CSV record longer than 1 MiB",
            ));
        }
        let read = self.inner.read(buf)?;
        self.used += read;
        Ok(read)
    }
}
