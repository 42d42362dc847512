//! `ocpvault etcd audit`: objects per type, how they are stored, and findings.

use super::*;
use crate::etcd::bbolt::Stats;
use std::collections::BTreeMap;
use std::io::Write;

#[derive(Debug, Default, Serialize)]
struct TypeCount {
    objects: u64,
    bytes: u64,
    json: u64,
    protobuf: u64,
    encrypted: u64,
    raw: u64,
}

#[derive(Debug, Serialize)]
struct DbFacts {
    page_size: u32,
    txid: u64,
    pages_read: u64,
    overflow_pages: u64,
    max_branch_depth: u32,
}

#[derive(Debug, Serialize)]
struct AuditReport {
    db: String,
    revision: i64,
    current_revision: i64,
    compacted_revision: i64,
    bolt: DbFacts,
    objects: u64,
    types: BTreeMap<String, TypeCount>,
    other_keys: u64,
    json_objects: Vec<String>,
    secrets_not_encrypted: Vec<String>,
    #[serde(flatten)]
    damage: Damage,
}

/// Runs `ocpvault etcd audit`.
pub fn audit(args: AuditArgs) -> CmdResult {
    let mut open = open_db(&args.db)?;
    let state = read(&mut open, &args.db, &|_| false)?;
    let stats: Stats = open.db.stats();
    let meta = open.db.meta();
    let mut report = AuditReport {
        db: open.label.clone(),
        revision: state.revision,
        current_revision: state.current_revision,
        compacted_revision: state.compacted,
        bolt: DbFacts {
            page_size: meta.page_size,
            txid: meta.txid,
            pages_read: stats.pages_read,
            overflow_pages: stats.overflow_pages,
            max_branch_depth: stats.max_branch_depth,
        },
        objects: state.objects.len() as u64,
        types: BTreeMap::new(),
        other_keys: 0,
        json_objects: Vec::new(),
        secrets_not_encrypted: Vec::new(),
        damage: damage(&open, &state),
    };
    for obj in state.objects.values() {
        let r = IndexedKey::describe(obj);
        let Some(resource) = r.parts.resource.clone() else {
            report.other_keys += 1;
            continue;
        };
        let c = report.types.entry(resource.clone()).or_default();
        c.objects += 1;
        c.bytes += r.size;
        match r.encoding.as_str() {
            "json" => c.json += 1,
            "protobuf" => c.protobuf += 1,
            "encrypted" => c.encrypted += 1,
            _ => c.raw += 1,
        }
        if r.encoding == "json" {
            report.json_objects.push(r.key.clone());
        }
        if resource == "secrets" && !r.encrypted {
            report.secrets_not_encrypted.push(r.key);
        }
    }
    if args.json {
        print_json(&report)?;
    } else {
        print_audit(&report)?;
    }
    let damaged = warn_damage(&report.damage);
    Ok(
        if damaged == Outcome::Ok
            && report.json_objects.is_empty()
            && report.secrets_not_encrypted.is_empty()
        {
            Outcome::Ok
        } else {
            Outcome::Findings
        },
    )
}

fn print_audit(r: &AuditReport) -> Result<(), CliError> {
    // Built whole, then written through the one output path (a closed stdout ends
    // output quietly).
    let mut out: Vec<u8> = Vec::new();
    writeln!(out, "db:        {}", r.db)?;
    writeln!(
        out,
        "revision:  {} (newest {}, compacted below {})",
        r.revision, r.current_revision, r.compacted_revision
    )?;
    writeln!(
        out,
        "objects:   {} ({} other keys)",
        r.objects, r.other_keys
    )?;
    let w = r.types.keys().map(|k| k.len()).max().unwrap_or(4).max(4);
    writeln!(
        out,
        "{:<w$}  {:>8}  {:>8}  {:>8}  {:>9}  {:>5}",
        "TYPE", "OBJECTS", "PROTOBUF", "JSON", "ENCRYPTED", "RAW"
    )?;
    for (t, c) in &r.types {
        writeln!(
            out,
            "{t:<w$}  {:>8}  {:>8}  {:>8}  {:>9}  {:>5}",
            c.objects, c.protobuf, c.json, c.encrypted, c.raw
        )?;
    }
    if !r.json_objects.is_empty() {
        writeln!(
            out,
            "finding: {} object(s) still stored as JSON (`oc adm migrate storage` rewrites them as protobuf)",
            r.json_objects.len()
        )?;
    }
    if !r.secrets_not_encrypted.is_empty() {
        writeln!(
            out,
            "finding: {} secret(s) not encrypted at rest:",
            r.secrets_not_encrypted.len()
        )?;
        for k in &r.secrets_not_encrypted {
            writeln!(out, "  {k}")?;
        }
    }
    crate::cli::output::with_stdout(|o| o.write_all(&out));
    Ok(())
}
