//! Running the OpenShift client (`oc`, or `kubectl`, which takes the same arguments
//! used here) for the projects source and the project restorer.
//!
//! Guarantees: every call carries `--request-timeout`, so a dead API server cannot hang
//! a snapshot; standard output is streamed to the caller, never collected whole unless
//! the caller asks for a bounded capture; standard error is read concurrently and kept
//! to a bounded size; a refusal by the server (MethodNotAllowed, Forbidden, NotFound,
//! AlreadyExists) is told apart from an unreachable server and from a missing client.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Server-side timeout of one request, passed to every call.
const REQUEST_TIMEOUT: &str = "--request-timeout=60s";
/// How much of the client's standard error is kept (16 KiB).
const STDERR_KEEP_BYTES: usize = 16 * 1024;
/// How much standard output a bounded capture accepts (8 MiB).
const CAPTURE_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// Longest error message kept from the client, in characters.
const MESSAGE_MAX_CHARS: usize = 600;

/// One OpenShift client and the kubeconfig it uses.
#[derive(Debug, Clone)]
pub struct Oc {
    program: PathBuf,
    kubeconfig: Option<PathBuf>,
}

/// Why the server refused a request; the object or type is skipped, not failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    MethodNotAllowed,
    Forbidden,
    NotFound,
    AlreadyExists,
}

/// A failed client call.
#[derive(Debug, thiserror::Error)]
pub enum OcError {
    /// The client could not be started at all (missing, not executable).
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    /// The server answered and refused.
    #[error("{message}")]
    Refused { refusal: Refusal, message: String },
    /// The API server could not be reached, or did not accept our credentials.
    #[error("API server unreachable: {message}")]
    Unreachable { message: String },
    /// Any other failure, with the client's message.
    #[error("{message}")]
    Failed { message: String },
    /// Reading the client's output failed.
    #[error("reading the output of {program}: {source}")]
    Io {
        program: String,
        #[source]
        source: io::Error,
    },
}

impl OcError {
    /// True when no later call can succeed either: the client is missing or the
    /// server is gone.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::Spawn { .. } | Self::Unreachable { .. })
    }
}

/// Standard output of a finished call and, when it exited non-zero, the error.
#[derive(Debug)]
pub struct Captured {
    pub stdout: String,
    pub failure: Option<OcError>,
}

impl Oc {
    /// A client `program` (a path, or a name looked up on PATH) using `kubeconfig`, or
    /// the client's own default (KUBECONFIG, ~/.kube/config) when None.
    pub fn new(program: &Path, kubeconfig: Option<&Path>) -> Self {
        Self {
            program: program.to_path_buf(),
            kubeconfig: kubeconfig.map(Path::to_path_buf),
        }
    }

    /// The program as given, for messages.
    pub fn program(&self) -> String {
        self.program.display().to_string()
    }

    fn spawn(&self, args: &[&str]) -> Result<Child, OcError> {
        let mut cmd = Command::new(&self.program);
        if let Some(k) = &self.kubeconfig {
            cmd.arg(format!("--kubeconfig={}", k.display()));
        }
        cmd.arg(REQUEST_TIMEOUT)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| OcError::Spawn {
                program: self.program(),
                source,
            })
    }

    /// Runs the client and hands its standard output to `consume` while it runs. The
    /// value `consume` returns is given back only if the client exited with 0, so a
    /// caller never keeps half an answer.
    pub fn stream<T>(
        &self,
        args: &[&str],
        consume: impl FnOnce(&mut dyn Read) -> io::Result<T>,
    ) -> Result<T, OcError> {
        let mut child = self.spawn(args)?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let errors = std::thread::spawn(move || read_bounded(stderr));
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let consumed = consume(&mut stdout);
        if consumed.is_err() {
            // The client may block writing to a pipe nobody reads any more.
            let _ = child.kill();
        }
        drop(stdout);
        let status = child.wait().map_err(|source| OcError::Io {
            program: self.program(),
            source,
        })?;
        let stderr = errors.join().unwrap_or_default();
        let value = consumed.map_err(|source| OcError::Io {
            program: self.program(),
            source,
        })?;
        if status.success() {
            Ok(value)
        } else {
            Err(classify(&String::from_utf8_lossy(&stderr), status.code()))
        }
    }

    /// Runs the client and keeps its standard output (at most 8 MiB) even when it
    /// fails, for commands that print useful partial results with an error.
    pub fn capture(&self, args: &[&str]) -> Result<Captured, OcError> {
        let mut buf = Vec::new();
        let result = self.stream(args, |r| {
            r.take(CAPTURE_MAX_BYTES + 1).read_to_end(&mut buf)?;
            if buf.len() as u64 > CAPTURE_MAX_BYTES {
                return Err(io::Error::other("output larger than 8 MiB"));
            }
            Ok(())
        });
        let failure = match result {
            Ok(()) => None,
            Err(e @ (OcError::Spawn { .. } | OcError::Io { .. })) => return Err(e),
            Err(e) => Some(e),
        };
        Ok(Captured {
            stdout: String::from_utf8_lossy(&buf).into_owned(),
            failure,
        })
    }

    /// Runs the client and returns its standard output (at most 8 MiB), or the error.
    pub fn run(&self, args: &[&str]) -> Result<String, OcError> {
        let c = self.capture(args)?;
        match c.failure {
            None => Ok(c.stdout),
            Some(e) => Err(e),
        }
    }
}

/// Reads a stream to its end, keeping only the first 16 KiB.
fn read_bounded(mut r: impl Read) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = STDERR_KEEP_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// Classifies a failed call by the client's error output.
pub fn classify(stderr: &str, code: Option<i32>) -> OcError {
    let message = error_message(stderr, code);
    let refusal = [
        ("(MethodNotAllowed)", Refusal::MethodNotAllowed),
        ("(Forbidden)", Refusal::Forbidden),
        ("(NotFound)", Refusal::NotFound),
        ("the server doesn't have a resource type", Refusal::NotFound),
        ("(AlreadyExists)", Refusal::AlreadyExists),
    ]
    .into_iter()
    .find(|(marker, _)| stderr.contains(marker));
    if let Some((_, refusal)) = refusal {
        return OcError::Refused { refusal, message };
    }
    const UNREACHABLE: &[&str] = &[
        "Unable to connect to the server",
        "The connection to the server",
        "connection refused",
        "no such host",
        "i/o timeout",
        "(Unauthorized)",
        "You must be logged in",
    ];
    if UNREACHABLE.iter().any(|m| stderr.contains(m)) {
        OcError::Unreachable { message }
    } else {
        OcError::Failed { message }
    }
}

/// The client's error lines joined into one, shortened; the exit code when it said
/// nothing.
fn error_message(stderr: &str, code: Option<i32>) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return match code {
            Some(c) => format!("exited with status {c} and printed no error"),
            None => "killed by a signal".to_string(),
        };
    }
    let joined = lines.join("; ");
    if joined.chars().count() <= MESSAGE_MAX_CHARS {
        return joined;
    }
    let mut short: String = joined.chars().take(MESSAGE_MAX_CHARS).collect();
    short.push_str("...");
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_told_apart_from_unreachable_servers() {
        let e = classify(
            "Error from server (MethodNotAllowed): the server does not allow this method on the requested resource\n",
            Some(1),
        );
        assert!(matches!(
            e,
            OcError::Refused {
                refusal: Refusal::MethodNotAllowed,
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "Error from server (MethodNotAllowed): the server does not allow this method on the requested resource"
        );
        let e = classify(
            "The connection to the server master-0.example.com:8443 was refused - did you specify the right host or port?\n",
            Some(1),
        );
        assert!(e.is_fatal(), "{e:?}");
        let e = classify(
            "Error from server (AlreadyExists): error when creating \"x.yaml\": serviceaccounts \"builder\" already exists",
            Some(1),
        );
        assert!(matches!(
            e,
            OcError::Refused {
                refusal: Refusal::AlreadyExists,
                ..
            }
        ));
        let e = classify("", Some(3));
        assert_eq!(e.to_string(), "exited with status 3 and printed no error");
        assert!(!e.is_fatal());
    }

    #[test]
    fn long_messages_are_shortened() {
        let long = "x".repeat(5000);
        let msg = classify(&long, Some(1)).to_string();
        assert_eq!(msg.chars().count(), MESSAGE_MAX_CHARS + 3);
    }

    #[test]
    fn a_missing_client_is_a_spawn_error() {
        let oc = Oc::new(Path::new("/nonexistent/ocpvault-test/oc"), None);
        let e = oc.run(&["version"]).unwrap_err();
        assert!(matches!(e, OcError::Spawn { .. }), "{e:?}");
        assert!(e.is_fatal());
    }

    #[test]
    fn output_is_returned_only_on_success() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fake-oc");
        std::fs::write(
            &script,
            // $1 is --request-timeout.
            "#!/bin/sh\nshift\nif [ \"$1\" = ok ]; then echo out; else echo out; echo 'Error from server (Forbidden): no' >&2; exit 1; fi\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let oc = Oc::new(&script, None);
        assert_eq!(oc.run(&["ok"]).unwrap(), "out\n");
        let c = oc.capture(&["bad"]).unwrap();
        assert_eq!(c.stdout, "out\n");
        assert!(matches!(
            c.failure,
            Some(OcError::Refused {
                refusal: Refusal::Forbidden,
                ..
            })
        ));
    }
}
