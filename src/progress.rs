//! Progress callbacks shared by the sources and the restorer; the CLI draws them
//! (on a terminal only), tests and library callers ignore them.

/// The one progress sink of every long step: the snapshot pipeline and each source
/// in it, the etcd snapshot stream, the restorer. The CLI draws it on a terminal;
/// tests and library callers pass [`NoProgress`].
///
/// A step is framed by [`begin`](Progress::begin) and [`end`](Progress::end); inside
/// it a source reports items (files, projects) or bytes of a known total (the etcd
/// snapshot stream, the db of a data-dir capture).
pub trait Progress {
    /// A step starts: `step` names it (`files`, `etcd snapshot`, ...); `total` is its
    /// size in bytes when known (drawn as a byte bar), else items are counted.
    fn begin(&self, _step: &str, _total: Option<u64>) {}
    /// Another item was read; `bytes` of content.
    fn item(&self, _bytes: u64) {}
    /// `bytes` more of the step's total arrived.
    fn advance(&self, _bytes: u64) {}
    /// A new phase or sub-task of the step started.
    fn message(&self, _msg: &str) {}
    /// `done` of `total` bytes of one large item (`what`) have been read and
    /// compressed so far; the item itself is still reported with `item` at its end.
    fn reading(&self, _what: &str, _done: u64, _total: u64) {}
    /// The step ended, well or not.
    fn end(&self) {}
}

/// One step of a [`Progress`] sink, framed: `begin` now, `end` when dropped (also
/// when the step fails). [`Step::total`] turns running totals into `advance` calls.
pub struct Step<'a> {
    progress: &'a dyn Progress,
    last: std::cell::Cell<u64>,
}

impl<'a> Step<'a> {
    pub fn begin(progress: &'a dyn Progress, step: &str, total: Option<u64>) -> Self {
        progress.begin(step, total);
        Self {
            progress,
            last: std::cell::Cell::new(0),
        }
    }

    /// `done` bytes so far (a running total).
    pub fn total(&self, done: u64) {
        self.progress
            .advance(done.saturating_sub(self.last.replace(done)));
    }
}

impl Drop for Step<'_> {
    fn drop(&mut self) {
        self.progress.end();
    }
}

/// Progress that draws nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Passes reads through and reports the running byte count to `report` about every
/// `step` bytes (and at the end), for bars over one long read: hashing, upload, the
/// compression of one large file.
pub struct ProgressReader<R, F: FnMut(u64)> {
    inner: R,
    report: F,
    done: u64,
    last: u64,
    step: u64,
}

impl<R, F: FnMut(u64)> ProgressReader<R, F> {
    pub fn new(inner: R, step: u64, report: F) -> Self {
        Self {
            inner,
            report,
            done: 0,
            last: 0,
            step: step.max(1),
        }
    }
}

impl<R: std::io::Read, F: FnMut(u64)> std::io::Read for ProgressReader<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if n == 0 || self.done - self.last >= self.step {
            self.last = self.done;
            (self.report)(self.done);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::ProgressReader;
    use std::io::Read;

    #[test]
    fn reports_running_totals_and_the_end() {
        let data = vec![7u8; 10_000];
        let mut seen = Vec::new();
        let mut r = ProgressReader::new(&data[..], 4096, |d| seen.push(d));
        let mut buf = [0u8; 1000];
        let mut total = 0;
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            total += n;
        }
        assert_eq!(total, 10_000);
        assert_eq!(seen, vec![5000, 10_000, 10_000]);
    }
}
