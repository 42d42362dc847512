//! Progress callbacks shared by the sources and the restorer; the CLI draws them
//! (on a terminal only), tests and library callers ignore them.

/// Progress callbacks a source may use; the CLI draws them, tests ignore them.
pub trait Progress {
    /// Another item was read; `bytes` of content.
    fn item(&self, _bytes: u64) {}
    /// A new phase or sub-task started.
    fn message(&self, _msg: &str) {}
}

/// Progress that draws nothing.
pub struct NoProgress;
impl Progress for NoProgress {}
