//! The keys for values encrypted at rest, shared by `etcd get`, `etcd dump` and
//! `project restore --from-etcd`: from `--encryption-config FILE` or the archived
//! EncryptionConfig. Messages name files and keys, never a key's secret.

use super::{CliError, ENCRYPTION_CONFIG_PATH};
use crate::etcd::values::{DecryptError, EncryptionKeys};
use std::path::Path;

/// Reads the keys from `explicit`, else from the archive's EncryptionConfig. `what`
/// starts the message (`etcd get`).
pub(crate) fn encryption_keys(
    explicit: Option<&Path>,
    archived: Option<&str>,
    what: &str,
) -> Result<EncryptionKeys, CliError> {
    let text = match explicit {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| CliError::new(format!("{}: {e}", p.display())))?,
        None => archived.map(str::to_string).ok_or_else(|| {
            CliError::new(format!(
                "{what}: the value is encrypted at rest and the archive holds no {ENCRYPTION_CONFIG_PATH}"
            ))
            .hint("pass the API server's EncryptionConfig with --encryption-config FILE")
        })?,
    };
    let from = explicit.map_or(ENCRYPTION_CONFIG_PATH.to_string(), |p| {
        p.display().to_string()
    });
    EncryptionKeys::parse(&text).map_err(|e| CliError::new(format!("{from}: {e}")))
}

/// The error for a value that did not decrypt, with the hint that helps.
pub(crate) fn decrypt_error(what: &str, key: &str, e: DecryptError) -> CliError {
    let err = CliError::new(format!("{what}: {key}: {e}"));
    match e {
        DecryptError::NoKey { .. } | DecryptError::Failed { .. } => err.hint(
            "pass the EncryptionConfig the API server used then with --encryption-config FILE",
        ),
        DecryptError::Offline { .. } => err.hint("`-o stored` writes the encrypted bytes"),
        DecryptError::NotEncrypted => err,
    }
}
