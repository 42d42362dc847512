//! `ocpvault etcd get`: one object, decrypted when encrypted at rest.

use super::encryption::{decrypt_error, encryption_keys};
use super::*;
use crate::etcd::object::to_api_object;
use crate::etcd::values::{ValueKind, decrypt, sniff};

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
    // The key index and a framed snapshot answer without decompressing the db.
    let (obj, encryption_config, outcome) = match read_indexed(&args.db, &wanted)? {
        Some(r) => {
            if std::env::var_os("OCPVAULT_DEBUG_IO").is_some() {
                crate::cli::output::note(format_args!(
                    "etcd get: read {} stored bytes of the snapshot through the key index",
                    r.snapshot_bytes_read
                ));
            }
            (r.object, r.encryption_config, Outcome::Ok)
        }
        None => {
            let mut open = open_db(&args.db)?;
            let want = |k: &[u8]| wanted.iter().any(|w| w.as_bytes() == k);
            let mut state = read(&mut open, &args.db, &want)?;
            let outcome = warn_damage(&damage(&open, &state));
            let Some(obj) = wanted
                .iter()
                .find_map(|k| state.objects.remove(k.as_bytes()))
            else {
                return Err(not_found(&args, &wanted, &state));
            };
            (obj, open.encryption_config.take(), outcome)
        }
    };
    let key = String::from_utf8_lossy(&obj.key).into_owned();
    let stored = obj.value.clone().unwrap_or_default();
    if args.output == GetFormat::Stored {
        crate::cli::output::with_stdout(|o| o.write_all(&stored));
        return Ok(outcome);
    }
    let plain = match sniff(&stored) {
        ValueKind::Encrypted { .. } => {
            let keys = encryption_keys(
                args.encryption_config.as_deref(),
                encryption_config.as_deref(),
                "etcd get",
            )?;
            decrypt(&stored, key.as_bytes(), &keys)
                .map_err(|e| decrypt_error("etcd get", &key, e))?
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
