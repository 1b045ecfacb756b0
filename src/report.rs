//! STUB until the report lands.
use crate::ledger::LedgerError;
use std::path::{Path, PathBuf};
#[derive(serde::Serialize)]
pub struct Report {}
pub fn build_report(_p: &[PathBuf]) -> Result<Report, LedgerError> {
    Ok(Report {})
}
impl Report {
    pub fn render_text(&self) -> String {
        String::new()
    }
}
pub fn write_failed_ids_csv(_p: &[PathBuf], _o: &Path) -> Result<u64, LedgerError> {
    Ok(0)
}
