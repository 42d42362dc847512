//! The one output path of the CLI (after ripgrep's `main.rs` and `messages.rs`).
//!
//! Every stdout line goes through [`emit`] (the `outln!` macro) or [`with_stdout`];
//! every warning or error line goes to stderr through [`warn`], [`error`] or [`note`].
//! Guarantees:
//! - nothing here panics: a failed write is handled, never unwrapped;
//! - a closed stdout (`| head -1`) is recognised by `io::ErrorKind::BrokenPipe` and ends
//!   output quietly: later lines are dropped, the command's work goes on, and the exit
//!   code stays the one the work decided;
//! - [`warn`] and [`error`] record the exit code they imply (1 and 2), which
//!   [`exit_code`] folds into the command's own outcome;
//! - text read from an archive passes [`escape`] before it reaches a terminal.

use super::CliError;
use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Set once stdout has been closed by its reader; later output is dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// The highest exit code a message implied (0, 1 for a warning, 2 for an error).
static MESSAGE_CODE: AtomicU8 = AtomicU8::new(0);

/// Prints one line on stdout through the shared writer; see [`emit`].
#[macro_export]
macro_rules! outln {
    () => { $crate::cli::output::emit(format_args!("")) };
    ($($arg:tt)*) => { $crate::cli::output::emit(format_args!($($arg)*)) };
}

/// Writes one line to stdout. A closed stdout stops output quietly; any other write
/// failure is reported once on stderr and makes the command exit 2.
pub fn emit(line: fmt::Arguments) {
    with_stdout(|out| {
        out.write_fmt(line)?;
        out.write_all(b"\n")
    });
}

/// Runs `write` against the locked stdout and flushes, handling failures as [`emit`]
/// does. Returns false when the output did not arrive (stdout closed or failing), so a
/// long copy can stop early.
pub fn with_stdout(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> bool {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return false;
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => true,
        Err(e) => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            if e.kind() != io::ErrorKind::BrokenPipe {
                error(format_args!("cannot write to stdout: {e}"));
            }
            false
        }
    }
}

/// True once stdout was found closed or failing.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)?;
    emit(format_args!("{text}"));
    Ok(())
}

fn stderr_line(prefix: &str, msg: fmt::Arguments) {
    // A closed stderr has nowhere to report to; the exit code still tells.
    let _ = writeln!(io::stderr().lock(), "{prefix}{msg}");
}

fn record(code: u8) {
    MESSAGE_CODE.fetch_max(code, Ordering::Relaxed);
}

/// `warning: <msg>` on stderr; the command then exits at least 1.
pub fn warn(msg: fmt::Arguments) {
    stderr_line("warning: ", msg);
    record(1);
}

/// `ocpvault: <msg>` on stderr for an error that does not stop the run; the command
/// then exits 2 after finishing its work.
pub fn error(msg: fmt::Arguments) {
    stderr_line("ocpvault: ", msg);
    record(2);
}

/// `note: <msg>` on stderr; does not change the exit code.
pub fn note(msg: fmt::Arguments) {
    stderr_line("note: ", msg);
}

/// Prints a stopping error and its hint on stderr.
pub fn print_error(e: &CliError) {
    stderr_line("ocpvault: ", format_args!("{}", e.message));
    if let Some(h) = &e.hint {
        stderr_line("hint: ", format_args!("{h}"));
    }
}

/// The exit code: the work's own code, raised by what messages recorded.
pub fn exit_code(work: u8) -> u8 {
    work.max(MESSAGE_CODE.load(Ordering::Relaxed))
}

/// True when `e` or any error in its source chain is an `io::ErrorKind::BrokenPipe`.
pub fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>()
            && io.kind() == io::ErrorKind::BrokenPipe
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Escapes control characters (newline, escape sequences, DEL, C1 controls) so a
/// path or name read from an archive cannot move the cursor or rewrite a terminal;
/// a backslash is doubled so the escaping stays unambiguous. Other text is unchanged.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() || c == '\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The hint for a path argument that does not start with `/`: archive paths are
/// absolute. `None` when every path is absolute. Used by ls, cat, diff and restore.
pub fn relative_path_hint<S: AsRef<str>>(paths: &[S]) -> Option<String> {
    let rel = paths
        .iter()
        .map(AsRef::as_ref)
        .find(|p| !p.starts_with('/'))?;
    Some(format!(
        "archive paths are absolute: write /{} instead of {rel}",
        rel.trim_start_matches("./")
    ))
}

/// A "not in the archive" error for `paths`, with the relative-path hint when one
/// of them is relative.
pub fn not_in_archive<S: AsRef<str>>(paths: &[S]) -> CliError {
    let shown: Vec<String> = paths
        .iter()
        .map(|p| escape(p.as_ref()).into_owned())
        .collect();
    let err = CliError::new(format!("{}: not in the archive", shown.join(", ")));
    match relative_path_hint(paths) {
        Some(h) => err.hint(h),
        None => err,
    }
}

/// Human-readable byte counts (KiB, MiB, GiB).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `ls -l` style permission string, including setuid, setgid and sticky.
pub fn mode_string(type_char: char, mode: u32) -> String {
    let mut s = String::with_capacity(10);
    s.push(type_char);
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (i, (bit, ch)) in bits.iter().enumerate() {
        let set = mode & bit != 0;
        let special = match i {
            2 => Some((0o4000, 's')),
            5 => Some((0o2000, 's')),
            8 => Some((0o1000, 't')),
            _ => None,
        };
        match special {
            Some((sbit, sch)) if mode & sbit != 0 => {
                s.push(if set { sch } else { sch.to_ascii_uppercase() })
            }
            _ => s.push(if set { *ch } else { '-' }),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_render_like_ls() {
        assert_eq!(mode_string('-', 0o600), "-rw-------");
        assert_eq!(mode_string('-', 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string('d', 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string('-', 0o2640), "-rw-r-S---");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("/etc/origin"), "/etc/origin");
        assert_eq!(escape("/tmp/a\nb"), "/tmp/a\\nb");
        assert_eq!(escape("/tmp/\x1b[2J"), "/tmp/\\u{1b}[2J");
        assert_eq!(escape("/tmp/a\\nb"), "/tmp/a\\\\nb");
        assert_eq!(escape("/tmp/é"), "/tmp/é");
    }

    #[test]
    fn relative_paths_get_a_hint() {
        assert_eq!(relative_path_hint(&["/etc/origin"]), None);
        let h = relative_path_hint(&["/etc", "etc/origin"]).expect("hint");
        assert!(h.contains("/etc/origin instead of etc/origin"), "{h}");
    }

    #[test]
    fn broken_pipe_is_found_on_the_chain() {
        #[derive(Debug)]
        struct Wrap(io::Error);
        impl fmt::Display for Wrap {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("writing")
            }
        }
        impl std::error::Error for Wrap {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let pipe = Wrap(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(is_broken_pipe(&pipe));
        let other = Wrap(io::Error::other("Broken pipe"));
        assert!(!is_broken_pipe(&other), "text alone is not a broken pipe");
    }
}
