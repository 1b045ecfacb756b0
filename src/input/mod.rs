//! STUB until the readers land.
use chrono::{DateTime, Utc};
use std::sync::Arc;
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
}
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub format: Option<Format>,
    pub id_field: Option<String>,
    pub delimiter: u8,
    pub block_till_field: Option<String>,
    pub default_block_till: Option<DateTime<Utc>>,
}
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub path: Arc<str>,
    pub line: u64,
}
impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.path, self.line)
    }
}
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub id: u64,
    pub block_till: DateTime<Utc>,
    pub origin: Origin,
}
#[derive(Clone, Debug, PartialEq)]
pub struct Reject {
    pub origin: Origin,
    pub input: String,
    pub reason: String,
}
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Row(Row),
    Reject(Reject),
    Broken(Reject),
}
pub struct Source {
    path: String,
}
impl Source {
    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn format(&self) -> Format {
        Format::Csv
    }
}
impl Iterator for Source {
    type Item = Item;
    fn next(&mut self) -> Option<Item> {
        None
    }
}
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot open {0}")]
    Open(String),
}
pub fn open(input: &str, _opts: &ReadOptions) -> Result<Source, InputError> {
    Ok(Source { path: input.into() })
}
