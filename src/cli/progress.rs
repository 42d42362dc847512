//! Progress bars on stderr, only when stderr is a terminal and --quiet is off.

use crate::progress::Progress;
use indicatif::{ProgressBar, ProgressStyle};
use std::cell::{Cell, RefCell};
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
    fn counter(&self, what: &str) -> Option<ProgressBar> {
        self.enabled.then(|| {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {pos} items, {msg}")
                    .expect("static template"),
            );
            b.set_prefix(what.to_string());
            b
        })
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

/// The CLI's [`Progress`] sink: a spinner counting items and bytes for a step of
/// unknown size, a byte bar for one with a known total; nothing when not drawing.
pub struct Bars<'a> {
    mode: &'a ProgressMode,
    bar: RefCell<Option<ProgressBar>>,
    bytes: Cell<u64>,
}

impl<'a> Bars<'a> {
    pub fn new(mode: &'a ProgressMode) -> Self {
        Self {
            mode,
            bar: RefCell::new(None),
            bytes: Cell::new(0),
        }
    }

    fn with_bar(&self, f: impl FnOnce(&ProgressBar)) {
        if let Some(b) = self.bar.borrow().as_ref() {
            f(b);
        }
    }
}

impl Drop for Bars<'_> {
    fn drop(&mut self) {
        self.end();
    }
}

impl Progress for Bars<'_> {
    fn begin(&self, step: &str, total: Option<u64>) {
        self.end();
        self.bytes.set(0);
        *self.bar.borrow_mut() = match total {
            Some(total) => self.mode.bytes(step, total),
            None => self.mode.counter(step),
        };
    }

    fn item(&self, bytes: u64) {
        self.with_bar(|b| {
            self.bytes.set(self.bytes.get() + bytes);
            b.inc(1);
            if b.position() % 64 == 0 {
                b.set_message(super::output::human_bytes(self.bytes.get()));
            }
        });
    }

    fn advance(&self, bytes: u64) {
        self.with_bar(|b| {
            b.inc(bytes);
            // A total reported up front (etcd's db size as of its last commit) can be
            // passed by what arrives.
            if b.length().is_some_and(|len| b.position() > len) {
                b.set_length(b.position());
            }
        });
    }

    fn reading(&self, what: &str, done: u64, total: u64) {
        self.with_bar(|b| {
            // File names may hold control characters: never send them to a terminal.
            let what: String = what.chars().flat_map(char::escape_default).collect();
            b.set_message(format!(
                "{}; compressing {what} {}/{}",
                super::output::human_bytes(self.bytes.get() + done),
                super::output::human_bytes(done),
                super::output::human_bytes(total)
            ));
        });
    }

    fn message(&self, msg: &str) {
        self.with_bar(|b| b.set_prefix(msg.to_string()));
    }

    fn end(&self) {
        if let Some(b) = self.bar.borrow_mut().take() {
            b.finish_and_clear();
        }
    }
}
