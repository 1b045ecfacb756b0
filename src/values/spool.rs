//! Where the values an unblock (or a sync's prune) wants wait while the block list is
//! read, in bounded memory: contact IDs in a bitmap (they are their own keys), strings in
//! an unnamed temporary file, one a line (memory then holds only their hashes).

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, Write};

use roaring::RoaringTreemap;

/// Values pushed once each (the caller dedupes), read back once.
pub trait Spool<V>: Send + 'static {
    fn push(&mut self, value: &V) -> io::Result<()>;
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every value pushed (IDs in ascending order, strings in the order pushed).
    fn drain(self) -> io::Result<Box<dyn Iterator<Item = io::Result<V>> + Send>>;
}

/// Contact IDs: a compressed bitmap.
#[derive(Default)]
pub struct IdSpool(RoaringTreemap);

impl Spool<u64> for IdSpool {
    fn push(&mut self, value: &u64) -> io::Result<()> {
        self.0.insert(*value);
        Ok(())
    }

    fn len(&self) -> u64 {
        self.0.len()
    }

    fn drain(self) -> io::Result<Box<dyn Iterator<Item = io::Result<u64>> + Send>> {
        Ok(Box::new(self.0.into_iter().map(Ok)))
    }
}

/// Strings: an unnamed temporary file, deleted when dropped.
pub struct StringSpool {
    file: BufWriter<File>,
    count: u64,
}

impl StringSpool {
    pub fn new() -> io::Result<StringSpool> {
        Ok(StringSpool {
            file: BufWriter::new(tempfile::tempfile()?),
            count: 0,
        })
    }
}

impl Spool<String> for StringSpool {
    /// A normal form holds no line break (emails and IPs are checked for it).
    fn push(&mut self, value: &String) -> io::Result<()> {
        self.count += 1;
        writeln!(self.file, "{value}")
    }

    fn len(&self) -> u64 {
        self.count
    }

    fn drain(self) -> io::Result<Box<dyn Iterator<Item = io::Result<String>> + Send>> {
        let mut file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        Ok(Box::new(BufReader::new(file).lines()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spools_give_back_what_they_were_given() {
        let mut ids = IdSpool::default();
        for id in [5u64, 1, 9] {
            ids.push(&id).unwrap();
        }
        assert_eq!(ids.len(), 3);
        let back: Vec<u64> = ids.drain().unwrap().map(Result::unwrap).collect();
        assert_eq!(back, [1, 5, 9]);
        let mut strings = StringSpool::new().unwrap();
        for value in ["b@x.io", "a@x.io"] {
            strings.push(&value.to_owned()).unwrap();
        }
        let back: Vec<String> = strings.drain().unwrap().map(Result::unwrap).collect();
        assert_eq!(back, ["b@x.io", "a@x.io"]);
    }
}
