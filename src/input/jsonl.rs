//! JSON Lines reader: one JSON object per line, the value under one key (read by the
//! kind's `parse_json`).
//!
//! Constraints kept:
//! - Bounded memory: a line is buffered up to [`MAX_LINE_BYTES`]; a longer one becomes one
//!   `Reject` and the rest of it is skipped with `fill_buf`/`consume`, never buffered.
//! - Bounded time: skipping stops at [`MAX_SKIP_BYTES`]. A line that long is not JSON Lines
//!   but a binary file, `/dev/zero` or a decompression bomb (1 MB of gzip can hold a 1 GB
//!   line, 1 TB in a few MB more), so the source ends there with `Item::Broken` instead of
//!   decompressing or reading all of it.
//! - Deep nesting is safe: values are skipped (`IgnoredAny`) or taken raw (`RawValue`), which
//!   serde_json does without recursion; an unclosed `[[[…` is one "broken JSON" reject.
//! - Exact IDs: the ID is taken as its raw JSON text (`RawValue`), never through `f64`, so a
//!   number too big for `u64` is refused instead of rounded, and a 5,000-digit number is just
//!   another reject.
//! - Only the wanted keys are looked at; every other value is skipped without being built.

use std::fmt;
use std::io::{self, BufRead, BufReader};
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::cell::{BlockTill, SNIPPET_BYTES, Snippet, snippet_of};
use super::{ByteStream, Format, InputError, Item, Origin, ReadOptions, Reject, Row};
use crate::values::Kind;
use crate::values::text::clip_str;

/// Longest line read as JSON; longer lines are rejected and skipped.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Longest line skipped past; past it the rest of the source is not read (`Broken`).
pub const MAX_SKIP_BYTES: u64 = 64 * 1024 * 1024;

/// The JSONL rows of one source.
pub struct JsonlRows<K: Kind> {
    path: Arc<str>,
    reader: BufReader<ByteStream>,
    /// The current line, without its newline; at most `MAX_LINE_BYTES` (or a snippet of
    /// an over-long line).
    line_buf: Vec<u8>,
    /// Physical lines read so far (the number of the current line once it is read).
    line: u64,
    /// Keys that may hold the ID, in order of preference (at most 3).
    id_keys: Vec<String>,
    block_till: BlockTill,
    done: bool,
    /// What the values are.
    kind: K,
}

enum LineRead {
    Line,
    /// Longer than `MAX_LINE_BYTES`: skipped to its end.
    TooLong,
    /// Longer than `MAX_SKIP_BYTES`: reading stopped inside it.
    Runaway,
    Eof,
}

impl<K: Kind> JsonlRows<K> {
    /// Checks that the stream can be read and is not empty; lines are read on iteration.
    pub fn new(
        path: Arc<str>,
        mut reader: BufReader<ByteStream>,
        opts: &ReadOptions,
        block_till: BlockTill,
        kind: K,
    ) -> Result<JsonlRows<K>, InputError> {
        let first = loop {
            match reader.fill_buf() {
                Ok(bytes) => break bytes.len(),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(InputError::Read {
                        path: path.to_string(),
                        source,
                    });
                }
            }
        };
        if first == 0 {
            return Err(InputError::Empty {
                path: path.to_string(),
                format: Format::Jsonl,
            });
        }
        let id_keys = match &opts.id_field {
            Some(field) => vec![field.clone()],
            None => kind
                .value_type()
                .default_fields()
                .iter()
                .map(|&key| key.to_owned())
                .collect(),
        };
        Ok(JsonlRows {
            path,
            reader,
            line_buf: Vec::new(),
            line: 0,
            id_keys,
            block_till,
            done: false,
            kind,
        })
    }

    /// Reads the next physical line into `line_buf`, keeping at most `MAX_LINE_BYTES`.
    fn read_line(&mut self) -> io::Result<LineRead> {
        let JsonlRows {
            reader, line_buf, ..
        } = self;
        line_buf.clear();
        let mut started = false;
        let mut too_long = false;
        let mut length: u64 = 0;
        loop {
            let chunk = match reader.fill_buf() {
                Ok(chunk) => chunk,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if chunk.is_empty() {
                if !started {
                    return Ok(LineRead::Eof);
                }
                break;
            }
            started = true;
            let newline = chunk.iter().position(|&byte| byte == b'\n');
            let piece = &chunk[..newline.unwrap_or(chunk.len())];
            if !too_long {
                if line_buf.len() + piece.len() > MAX_LINE_BYTES {
                    // Keep only what the reject snippet shows; skip the rest unbuffered.
                    too_long = true;
                    line_buf.truncate(SNIPPET_BYTES);
                    let room = SNIPPET_BYTES - line_buf.len();
                    line_buf.extend_from_slice(&piece[..piece.len().min(room)]);
                } else {
                    line_buf.extend_from_slice(piece);
                }
            }
            let piece_len = piece.len();
            reader.consume(piece_len + usize::from(newline.is_some()));
            if newline.is_some() {
                break;
            }
            length += piece_len as u64;
            if length > MAX_SKIP_BYTES {
                self.line += 1;
                return Ok(LineRead::Runaway);
            }
        }
        self.line += 1;
        Ok(if too_long {
            LineRead::TooLong
        } else {
            LineRead::Line
        })
    }

    fn origin(&self) -> Origin {
        Origin {
            path: Arc::clone(&self.path),
            line: self.line,
        }
    }

    fn reject(&self, raw: &[u8], reason: String) -> Item<K::Value> {
        Item::Reject(Reject {
            origin: self.origin(),
            input: snippet_of(raw),
            reason,
        })
    }

    /// The item for the line in `line_buf`, or `None` for a blank line.
    fn check_line(&self) -> Option<Item<K::Value>> {
        let mut raw = self.line_buf.as_slice();
        if let Some(rest) = raw.strip_suffix(b"\r") {
            raw = rest;
        }
        if self.line == 1
            && let Some(rest) = raw.strip_prefix(b"\xEF\xBB\xBF")
        {
            raw = rest;
        }
        let Ok(text) = std::str::from_utf8(raw) else {
            return Some(self.reject(raw, "line is not valid UTF-8".to_owned()));
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return None;
        }
        if !trimmed.starts_with('{') {
            return Some(self.reject(
                raw,
                "not a JSON object (each line must be one {...} object)".to_owned(),
            ));
        }
        let fields = match parse_fields(trimmed, &self.id_keys, self.block_till.field()) {
            Ok(fields) => fields,
            Err(err) => return Some(self.reject(raw, broken_json_reason(&err))),
        };
        let Some(raw_id) = fields.ids.iter().flatten().next() else {
            return Some(self.reject(raw, self.missing_key_reason()));
        };
        let value = match self.kind.parse_json(raw_id.get()) {
            Ok(value) => value,
            Err(reason) => return Some(self.reject(raw, reason)),
        };
        let block_till = match fields.till.map(RawValue::get) {
            None | Some("null") => self.block_till.resolve(None),
            Some(json) => match serde_json::from_str::<String>(json) {
                Ok(text) => self.block_till.resolve(Some(&text)),
                Err(_) => Err(format!(
                    "block-till must be an RFC 3339 string, found {}",
                    clip_str(json, 60)
                )),
            },
        };
        Some(match block_till {
            Ok(block_till) => Item::Row(Row {
                value,
                block_till,
                origin: self.origin(),
            }),
            Err(reason) => self.reject(raw, reason),
        })
    }

    /// The snippet of an over-long line (what `read_line` kept of it), marked as cut.
    fn cut_snippet(&self) -> String {
        let mut snippet = Snippet::default();
        snippet.push(&self.line_buf);
        snippet.mark_cut();
        snippet.finish()
    }

    fn missing_key_reason(&self) -> String {
        match self.id_keys.as_slice() {
            [only] => format!("no `{only}` key (--id-field); check the key name"),
            keys => format!(
                "no {} key; name the key with --id-field",
                super::cell::field_names(&keys.iter().map(String::as_str).collect::<Vec<_>>())
            ),
        }
    }

    fn broken(&self, err: &io::Error) -> Item<K::Value> {
        let line = self.line + 1;
        Item::Broken(Reject {
            origin: Origin {
                path: Arc::clone(&self.path),
                line,
            },
            input: String::new(),
            reason: format!(
                "cannot read past line {line}: {err}; the rest of the file was not read \
                 (a truncated or corrupt gzip, or an I/O error): fix or replace the file and run again"
            ),
        })
    }
}

impl<K: Kind> Iterator for JsonlRows<K> {
    type Item = Item<K::Value>;

    fn next(&mut self) -> Option<Item<K::Value>> {
        while !self.done {
            match self.read_line() {
                Ok(LineRead::Eof) => self.done = true,
                Ok(LineRead::TooLong) => {
                    return Some(Item::Reject(Reject {
                        origin: self.origin(),
                        input: self.cut_snippet(),
                        reason: "line longer than 1 MiB; skipped (one JSON object per line)"
                            .to_owned(),
                    }));
                }
                Ok(LineRead::Runaway) => {
                    self.done = true;
                    return Some(Item::Broken(Reject {
                        origin: self.origin(),
                        input: self.cut_snippet(),
                        reason: format!(
                            "line {} is longer than 64 MiB, so this is not JSON Lines (a binary \
                             file? a decompression bomb?); the rest of the input was not read: \
                             fix the file and run again",
                            self.line
                        ),
                    }));
                }
                Ok(LineRead::Line) => {
                    if let Some(item) = self.check_line() {
                        return Some(item);
                    }
                }
                Err(err) => {
                    self.done = true;
                    return Some(self.broken(&err));
                }
            }
        }
        None
    }
}

fn broken_json_reason(err: &serde_json::Error) -> String {
    // serde_json says "at line 1 column N"; within one JSONL line only the column helps.
    let message = err.to_string();
    let what = message.split(" at line ").next().unwrap_or(&message);
    if what == "recursion limit exceeded" {
        return format!(
            "broken JSON at column {}: nested more than 128 levels deep",
            err.column()
        );
    }
    format!("broken JSON at column {}: {what}", err.column())
}

/// The values of the wanted keys in one JSON object line.
#[derive(Default)]
struct LineFields<'de> {
    /// The ID under each of the `id_keys`, by their index.
    ids: [Option<&'de RawValue>; 3],
    till: Option<&'de RawValue>,
}

fn parse_fields<'de>(
    text: &'de str,
    id_keys: &[String],
    till_key: Option<&str>,
) -> Result<LineFields<'de>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let fields = LineSeed { id_keys, till_key }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(fields)
}

/// Reads one JSON object, keeping the raw values of the ID keys and the block-till key.
struct LineSeed<'k> {
    id_keys: &'k [String],
    till_key: Option<&'k str>,
}

impl<'de> DeserializeSeed<'de> for LineSeed<'_> {
    type Value = LineFields<'de>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LineSeed<'_> {
    type Value = LineFields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = LineFields::default();
        let keys = KeySeed {
            id_keys: self.id_keys,
            till_key: self.till_key,
        };
        while let Some(key) = map.next_key_seed(keys.clone())? {
            match key {
                Key::Id(index) => {
                    let value = map.next_value::<&RawValue>()?;
                    if let Some(slot) = fields.ids.get_mut(index) {
                        *slot = Some(value);
                    }
                }
                Key::Till => fields.till = Some(map.next_value()?),
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(fields)
    }
}

enum Key {
    Id(usize),
    Till,
    Other,
}

/// Classifies an object key without allocating it.
#[derive(Clone)]
struct KeySeed<'k> {
    id_keys: &'k [String],
    till_key: Option<&'k str>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        if let Some(index) = self.id_keys.iter().position(|id_key| id_key == key) {
            Ok(Key::Id(index))
        } else if self.till_key == Some(key) {
            Ok(Key::Till)
        } else {
            Ok(Key::Other)
        }
    }
}
