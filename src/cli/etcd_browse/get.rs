//! `ocpvault etcd get`: one object, decrypted when encrypted at rest.

use super::*;
use crate::etcd::object::to_api_object;
use crate::etcd::values::{DecryptError, EncryptionKeys, ValueKind, decrypt, sniff};

/// The keys `etcd get` looks for.
fn candidates(target: &str, namespace: Option<&str>) -> Result<Vec<String>, CliError> {
    if target.starts_with('/') {
        return Ok(vec![target.to_string()]);
    }
    let Some((ty, name)) = target
        .split_once('/')
        .filter(|(t, n)| !t.is_empty() && !n.is_empty())
    else {
        return Err(CliError::new(format!(
            "etcd get: {target}: expected an etcd key (/...) or TYPE/NAME"
        )));
    };
    Ok(ROOTS
        .iter()
        .map(|root| match namespace {
            Some(ns) => format!("{root}{ty}/{ns}/{name}"),
            None => format!("{root}{ty}/{name}"),
        })
        .collect())
}

/// Runs `ocpvault etcd get`.
pub fn get(args: GetArgs) -> CmdResult {
    let wanted = candidates(&args.target, args.namespace.as_deref())?;
    let mut open = open_db(&args.db)?;
    let want = |k: &[u8]| wanted.iter().any(|w| w.as_bytes() == k);
    let state = read(&mut open, &args.db, &want)?;
    let outcome = warn_damage(&damage(&open, &state));
    let Some(obj) = wanted.iter().find_map(|k| state.objects.get(k.as_bytes())) else {
        return Err(not_found(&args, &wanted, &state));
    };
    let key = String::from_utf8_lossy(&obj.key).into_owned();
    let stored = obj.value.clone().unwrap_or_default();
    if args.output == GetFormat::Stored {
        crate::cli::output::with_stdout(|o| o.write_all(&stored));
        return Ok(outcome);
    }
    let plain = match sniff(&stored) {
        ValueKind::Encrypted { .. } => {
            let keys = encryption_keys(&args, &open)?;
            decrypt(&stored, key.as_bytes(), &keys).map_err(|e| decrypt_error(&key, e))?
        }
        _ => stored,
    };
    if args.output == GetFormat::Raw {
        crate::cli::output::with_stdout(|o| o.write_all(&plain));
        return Ok(outcome);
    }
    print_value(&key, obj.mod_revision, &plain, args.output).map(|o| match (o, outcome) {
        (Outcome::Ok, Outcome::Ok) => Outcome::Ok,
        _ => Outcome::Findings,
    })
}

fn not_found(args: &GetArgs, wanted: &[String], state: &State) -> CliError {
    let shown = wanted.join(" or ");
    if let Some((k, rev)) = wanted
        .iter()
        .find_map(|k| state.deleted.get(k.as_bytes()).map(|r| (k, *r)))
    {
        return CliError::new(format!("etcd get: {k} was deleted at revision {rev}"))
            .hint(format!("--revision {} reads it as it was before", rev - 1));
    }
    let err = CliError::new(format!(
        "etcd get: no key {shown} at revision {}",
        state.revision
    ));
    if args.namespace.is_none() && !args.target.starts_with('/') {
        err.hint("namespaced types need -n PROJECT; `ocpvault etcd ls ARCHIVE TYPE` lists them")
    } else {
        err.hint("`ocpvault etcd ls ARCHIVE TYPE -n PROJECT` lists what there is")
    }
}

fn encryption_keys(args: &GetArgs, open: &OpenDb) -> Result<EncryptionKeys, CliError> {
    let text = match &args.encryption_config {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| CliError::new(format!("{}: {e}", p.display())))?,
        None => open.encryption_config.clone().ok_or_else(|| {
            CliError::new(format!(
                "etcd get: the value is encrypted at rest and the archive holds no {ENCRYPTION_CONFIG_PATH}"
            ))
            .hint("pass the API server's EncryptionConfig with --encryption-config FILE")
        })?,
    };
    let from = args
        .encryption_config
        .as_ref()
        .map_or(ENCRYPTION_CONFIG_PATH.to_string(), |p| {
            p.display().to_string()
        });
    EncryptionKeys::parse(&text).map_err(|e| CliError::new(format!("{from}: {e}")))
}

fn decrypt_error(key: &str, e: DecryptError) -> CliError {
    let err = CliError::new(format!("etcd get: {key}: {e}"));
    match e {
        DecryptError::NoKey { .. } | DecryptError::Failed { .. } => err.hint(
            "pass the EncryptionConfig the API server used then with --encryption-config FILE",
        ),
        DecryptError::Offline { .. } => err.hint("`-o stored` writes the encrypted bytes"),
        DecryptError::NotEncrypted => err,
    }
}

/// Prints a plain value for `-o json` or `-o yaml`: JSON and protobuf values as the
/// API object (etcd::object), anything else as its text or base64.
fn print_value(key: &str, mod_revision: i64, plain: &[u8], format: GetFormat) -> CmdResult {
    let shown = crate::cli::output::escape(key);
    let (value, notes) = match sniff(plain) {
        ValueKind::Json | ValueKind::Protobuf => {
            let d = to_api_object(key, plain, mod_revision).map_err(|e| {
                // The error's path may hold map keys read from the archive.
                let e = e.to_string();
                CliError::new(format!(
                    "etcd get: {shown}: {}",
                    crate::cli::output::escape(&e)
                ))
                .hint("`-o raw` writes the value's bytes")
            })?;
            (d.object, d.notes)
        }
        _ => {
            let value = match std::str::from_utf8(plain) {
                Ok(s) => serde_json::json!({ "key": key, "encoding": "raw", "value": s }),
                Err(_) => {
                    use base64::Engine;
                    let b64 = base64::engine::general_purpose::STANDARD.encode(plain);
                    serde_json::json!({ "key": key, "encoding": "raw", "value_base64": b64 })
                }
            };
            (value, Vec::new())
        }
    };
    if format == GetFormat::Yaml {
        let text = serde_norway::to_string(&value)
            .map_err(|e| CliError::new(format!("etcd get: {shown}: cannot write YAML: {e}")))?;
        crate::cli::output::with_stdout(|o| o.write_all(text.as_bytes()));
    } else {
        print_json(&value)?;
    }
    for n in &notes {
        crate::cli::output::note(format_args!("{shown}: {}", crate::cli::output::escape(n)));
    }
    Ok(if notes.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_targets() {
        assert_eq!(
            candidates("secrets/s1", Some("p1")).unwrap(),
            [
                "/kubernetes.io/secrets/p1/s1",
                "/openshift.io/secrets/p1/s1"
            ]
        );
        assert_eq!(candidates("/x/y", None).unwrap(), ["/x/y"]);
        assert!(candidates("secrets", None).is_err());
        assert!(candidates("secrets/", None).is_err());
    }
}
