//! STUB until the ledger lands.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Blocked,
    Failed,
    Rejected,
}
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchRecord {
    pub run: String,
    pub batch: u64,
    pub status: Status,
    pub ids: Vec<u64>,
    pub block_till: DateTime<Utc>,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub source: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub ms: u64,
}
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RejectRecord {
    pub run: String,
    pub status: Status,
    pub source: String,
    pub input: String,
    pub error: String,
}
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Batch(BatchRecord),
    Reject(RejectRecord),
}
pub struct LedgerWriter;
impl LedgerWriter {
    pub fn open(_p: &Path) -> Result<Self, LedgerError> {
        Ok(LedgerWriter)
    }
    pub fn append(&mut self, _r: &Record) -> Result<(), LedgerError> {
        Ok(())
    }
    pub fn sync(&mut self) -> Result<(), LedgerError> {
        Ok(())
    }
}
pub struct LedgerReadStats {
    pub lines: u64,
    pub bad_lines: Vec<(u64, String)>,
    pub bad_line_count: u64,
}
pub struct LatestStatus {
    b: roaring::RoaringTreemap,
}
impl LatestStatus {
    pub fn load(_p: &Path) -> Result<(LatestStatus, LedgerReadStats), LedgerError> {
        Ok((
            LatestStatus {
                b: Default::default(),
            },
            LedgerReadStats {
                lines: 0,
                bad_lines: vec![],
                bad_line_count: 0,
            },
        ))
    }
    pub fn blocked(&self) -> &roaring::RoaringTreemap {
        &self.b
    }
    pub fn failed_by_block_till(&self) -> Vec<(DateTime<Utc>, roaring::RoaringTreemap)> {
        vec![]
    }
    pub fn failed_count(&self) -> u64 {
        0
    }
}
pub fn new_run_id() -> String {
    "x".into()
}
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("locked")]
    Locked,
}
