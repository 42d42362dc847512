//! The key index of a live snapshot (`crate::etcd::index`): the snapshot stream is
//! copied on its way into the archive to an unlinked 0600 temporary file, which is
//! read as a bbolt db once etcd's trailer has been checked, and the index is stored
//! next to the snapshot. Only the stored bytes go to that file (values encrypted at
//! rest stay encrypted). Any failure here leaves the snapshot intact: the index is
//! an optimisation, and `etcd ls` scans the db without it.

use crate::archive::Store;
use crate::collect::add_generated_file;
use crate::etcd::SOURCE_NAME;
use crate::etcd::bbolt::BoltDb;
use crate::etcd::index::{KEY_INDEX_PATH, build_index, write_index};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// Passes a stream through and copies it to a temporary file; a write error only
/// drops the copy (and is remembered), never the stream.
pub(super) struct SpoolTee<R> {
    pub inner: R,
    spool: Option<File>,
    spool_error: Option<String>,
}

impl<R> SpoolTee<R> {
    pub fn new(inner: R) -> Self {
        let (spool, spool_error) = match tempfile::tempfile() {
            Ok(f) => (Some(f), None),
            Err(e) => (None, Some(format!("temporary file: {e}"))),
        };
        Self {
            inner,
            spool,
            spool_error,
        }
    }

    /// Builds the index from the copy and stores it. Returns why not, if not.
    pub fn store_index(
        &mut self,
        store: &mut dyn Store,
        created: (i64, u32),
    ) -> Result<(), String> {
        let mut file = match (self.spool.take(), self.spool_error.take()) {
            (Some(f), None) => f,
            (_, e) => return Err(e.unwrap_or_else(|| "no copy of the stream".into())),
        };
        let len = file
            .seek(SeekFrom::End(0))
            .map_err(|e| format!("temporary file: {e}"))?;
        let mut db = BoltDb::open(file, len, false).map_err(|e| e.to_string())?;
        let index = build_index(&mut db).map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        write_index(&index, &mut bytes).map_err(|e| e.to_string())?;
        add_generated_file(store, SOURCE_NAME, KEY_INDEX_PATH, &mut &bytes[..], created)
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

impl<R: Read> Read for SpoolTee<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        if let Some(f) = &mut self.spool
            && let Err(e) = f.write_all(&out[..n])
        {
            self.spool = None;
            self.spool_error = Some(format!("temporary file: {e}"));
        }
        Ok(n)
    }
}
