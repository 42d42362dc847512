//! Progress bars on stderr, only when stderr is a terminal and --quiet is off.

use crate::collect::Progress;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// Whether to draw, decided once per run.
pub struct ProgressMode {
    enabled: bool,
}

impl ProgressMode {
    pub fn new(quiet: bool) -> Self {
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
        }
    }

    /// A spinner counting items and bytes.
    pub fn counter(&self, what: &str) -> Counter {
        let bar = if self.enabled {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {pos} items, {msg}")
                    .expect("static template"),
            );
            b.set_prefix(what.to_string());
            Some(b)
        } else {
            None
        };
        Counter {
            bar,
            bytes: std::cell::Cell::new(0),
        }
    }

    /// A bar over a known number of bytes.
    pub fn bytes(&self, what: &str, total: u64) -> Option<ProgressBar> {
        self.enabled.then(|| {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .expect("static template"),
            );
            b.set_prefix(what.to_string());
            b
        })
    }
}

/// A byte bar over one transfer (hashing, upload, download), drawn from its first
/// report on, when the total is known; cleared when dropped, also on an error.
pub struct TransferBar<'a> {
    mode: &'a ProgressMode,
    what: String,
    bar: Option<ProgressBar>,
}

impl<'a> TransferBar<'a> {
    pub fn new(mode: &'a ProgressMode, what: String) -> Self {
        Self {
            mode,
            what,
            bar: None,
        }
    }

    /// `done` of `total` bytes so far.
    pub fn update(&mut self, done: u64, total: u64) {
        let (mode, what) = (self.mode, &self.what);
        self.bar
            .get_or_insert_with(|| mode.bytes(what, total).unwrap_or_else(ProgressBar::hidden))
            .set_position(done);
    }
}

impl Drop for TransferBar<'_> {
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// Counts items and bytes for a source.
pub struct Counter {
    bar: Option<ProgressBar>,
    bytes: std::cell::Cell<u64>,
}

impl Counter {
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for Counter {
    fn item(&self, bytes: u64) {
        if let Some(b) = &self.bar {
            self.bytes.set(self.bytes.get() + bytes);
            b.inc(1);
            if b.position() % 64 == 0 {
                b.set_message(super::output::human_bytes(self.bytes.get()));
            }
        }
    }

    fn reading(&self, what: &str, done: u64, total: u64) {
        if let Some(b) = &self.bar {
            // File names may hold control characters: never send them to a terminal.
            let what: String = what.chars().flat_map(char::escape_default).collect();
            b.set_message(format!(
                "{}; compressing {what} {}/{}",
                super::output::human_bytes(self.bytes.get() + done),
                super::output::human_bytes(done),
                super::output::human_bytes(total)
            ));
        }
    }

    fn message(&self, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_prefix(msg.to_string());
        }
    }
}
