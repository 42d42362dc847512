//! `ocpvault run report`: the gate at the end of `ansible/snapshot.yml`, run on the
//! Ansible controller. It reads each targeted host's `snapshot --json` summary, checks
//! the run against the destination, writes the cluster report (JSON and a table) and,
//! when every check holds, seals the run (`ocpvault run seal`).
//!
//! The gate holds when every targeted host shipped a verified archive of this run
//! that the destination lists, the run holds exactly one etcd snapshot, and the first
//! master's archive holds the cluster CA material. Each failure is one line naming the
//! host (exit 1); the report is written either way. Nothing at the destination is
//! changed except the run record written by the seal.

use super::output::{self, human_bytes};
use super::ship_cmd::S3Args;
use super::{CliError, CmdResult, Outcome};
use crate::outln;
use crate::ship::names::parse_archive_name;
use crate::ship::{Destination, Missing, RunRecord};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What the first master's archive must hold by default: the CA material that exists
/// only there (the Day Two guide's master and etcd backup chapters).
pub const FIRST_MASTER_PATHS: [&str; 3] = [
    "/etc/origin/master/ca.serial.txt",
    "/etc/etcd/ca",
    "/etc/etcd/generated_certs",
];

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The destination the hosts shipped to (a directory or s3://bucket/prefix).
    pub dest: String,
    /// The run id every archive of the run carries.
    #[arg(long, value_name = "ID", value_parser = super::run_cmd::parse_run_id)]
    pub run_id: String,
    /// A targeted host and its inventory groups; repeatable.
    #[arg(long = "host", value_name = "NAME[=GROUP,...]", required = true)]
    pub hosts: Vec<String>,
    /// Directory holding each host's `snapshot --json` output as NAME.json, and what
    /// the snapshot printed on stderr as NAME.stderr.
    #[arg(long, value_name = "DIR")]
    pub summaries: PathBuf,
    /// The first master: its archive must hold the --require paths.
    #[arg(long, value_name = "NAME")]
    pub first_master: Option<String>,
    /// A path the first master's archive must hold; repeatable [default:
    /// /etc/origin/master/ca.serial.txt, /etc/etcd/ca, /etc/etcd/generated_certs].
    #[arg(long = "require", value_name = "PATH")]
    pub require: Vec<String>,
    /// Where to write ocpvault-run-ID.json and ocpvault-run-ID.txt.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub report_dir: PathBuf,
    /// Check and write the report, but do not seal the run.
    #[arg(long)]
    pub no_seal: bool,
    #[command(flatten)]
    pub s3: S3Args,
}

/// One host's line of the report.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct HostRow {
    pub host: String,
    /// The host name the archive carries (the host's /etc/hostname).
    pub hostname: Option<String>,
    pub groups: Vec<String>,
    pub archive: Option<String>,
    pub size: Option<u64>,
    pub time: Option<String>,
    /// Source name -> status (`captured`, `partial`, `skipped`, `failed`).
    pub sources: BTreeMap<String, String>,
    pub etcd_snapshot: bool,
    pub verified: bool,
    pub listed: bool,
}

/// The cluster report: what `ocpvault-run-ID.json` holds.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub destination: String,
    pub passed: bool,
    pub sealed: bool,
    pub etcd_snapshot_hosts: Vec<String>,
    pub first_master: Option<String>,
    pub failures: Vec<String>,
    pub hosts: Vec<HostRow>,
}

/// `NAME` or `NAME=GROUP,GROUP`.
fn parse_host(spec: &str) -> (String, Vec<String>) {
    match spec.split_once('=') {
        Some((name, groups)) => (
            name.to_string(),
            groups
                .split(',')
                .filter(|g| !g.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        None => (spec.to_string(), Vec::new()),
    }
}

/// The last `ocpvault: ...` line (else the last line) a failed snapshot printed.
fn stderr_reason(dir: &Path, host: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(format!("{host}.stderr"))).ok()?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .find(|l| l.starts_with("ocpvault:"))
        .or(lines.last())
        .map(|l| output::escape(l).into_owned())
}

/// Reads NAME.json; Err is the failure line for this host.
fn read_summary(dir: &Path, host: &str) -> Result<Value, String> {
    let path = dir.join(format!("{host}.json"));
    let why = stderr_reason(dir, host);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => t,
        _ => {
            return Err(match why {
                Some(w) => format!("host {host}: no archive from this host: {w}"),
                None => format!(
                    "host {host}: no snapshot summary (unreachable, or its snapshot did not run)"
                ),
            });
        }
    };
    serde_json::from_str(&text).map_err(|e| match why {
        Some(w) => format!("host {host}: no archive from this host: {w}"),
        None => format!(
            "host {host}: {}: not a snapshot summary: {e}",
            path.display()
        ),
    })
}

/// Fills `row` from a summary and returns this host's failures.
fn check_host(row: &mut HostRow, summary: &Value, run_id: &str, listed: &[String]) -> Vec<String> {
    let host = row.host.clone();
    let mut fails = Vec::new();
    for s in summary["sources"].as_array().into_iter().flatten() {
        if let (Some(n), Some(st)) = (s["name"].as_str(), s["status"].as_str()) {
            row.sources.insert(n.to_string(), st.to_string());
        }
    }
    row.hostname = summary["hostname"].as_str().map(str::to_string);
    row.etcd_snapshot = row.sources.get("etcd").is_some_and(|s| s == "captured");
    row.size = summary["stats"]["archive_size"].as_u64();
    match summary["run_id"].as_str() {
        Some(id) if id == run_id => {}
        Some(id) => fails.push(format!(
            "host {host}: its archive belongs to run {id}, not {run_id}"
        )),
        None => fails.push(format!("host {host}: its archive carries no run id")),
    }
    let shipped = &summary["shipped"];
    let Some(name) = shipped["name"].as_str() else {
        fails.push(format!("host {host}: its archive was not shipped"));
        return fails;
    };
    row.archive = Some(name.to_string());
    row.size = shipped["size"].as_u64().or(row.size);
    let parsed = parse_archive_name(name);
    row.time = parsed
        .as_ref()
        .map(|n| n.time.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    if parsed.and_then(|n| n.run_id).as_deref() != Some(run_id) {
        fails.push(format!(
            "host {host}: {name} is not named as an archive of run {run_id}"
        ));
    }
    row.verified = shipped["verified"].as_bool() == Some(true);
    if !row.verified {
        fails.push(format!(
            "host {host}: the stored copy of {name} was not verified"
        ));
    }
    row.listed = listed.iter().any(|l| l == name);
    if !row.listed {
        fails.push(format!("host {host}: the destination does not list {name}"));
    }
    fails
}

/// The first master's `required` list must name every path in `paths` as present.
fn check_required(host: &str, summary: &Value, paths: &[String]) -> Vec<String> {
    let listed = summary["required"].as_array();
    paths
        .iter()
        .filter_map(|p| {
            let entry = listed
                .into_iter()
                .flatten()
                .find(|r| r["path"].as_str() == Some(p.as_str()));
            match entry.map(|e| e["present"].as_bool() == Some(true)) {
                Some(true) => None,
                Some(false) => Some(format!("host {host} (first master): its archive lacks {p}")),
                None => Some(format!(
                    "host {host} (first master): its snapshot was not asked to --require {p}"
                )),
            }
        })
        .collect()
}

/// The etcd failures of hosts that tried, for the "no etcd snapshot" line.
fn etcd_errors(summaries: &BTreeMap<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (host, s) in summaries {
        for src in s["sources"].as_array().into_iter().flatten() {
            if src["name"] == "etcd" && src["status"] == "failed" {
                let why = src["failed"][0]["error"].as_str().unwrap_or("failed");
                out.push(format!("{host}: {}", output::escape(why)));
            }
        }
    }
    out
}

/// The inputs of the gate, already read.
pub struct GateInput<'a> {
    pub run_id: &'a str,
    pub hosts: Vec<(String, Vec<String>)>,
    /// Host -> its summary, or the failure line when there is none.
    pub summaries: BTreeMap<String, Result<Value, String>>,
    pub listed: Vec<String>,
    pub first_master: Option<&'a str>,
    pub require: Vec<String>,
}

/// Decides the gate: the rows of the report and every failure.
pub fn run_gate(input: &GateInput) -> (Vec<HostRow>, Vec<String>, Vec<String>) {
    let mut rows = Vec::new();
    let mut fails = Vec::new();
    let mut good = BTreeMap::new();
    for (host, groups) in &input.hosts {
        let mut row = HostRow {
            host: host.clone(),
            groups: groups.clone(),
            ..HostRow::default()
        };
        match input.summaries.get(host) {
            Some(Ok(summary)) => {
                fails.extend(check_host(&mut row, summary, input.run_id, &input.listed));
                good.insert(host.clone(), summary.clone());
            }
            Some(Err(line)) => fails.push(line.clone()),
            None => fails.push(format!("host {host}: no snapshot summary")),
        }
        rows.push(row);
    }
    let etcd_hosts: Vec<String> = rows
        .iter()
        .filter(|r| r.etcd_snapshot)
        .map(|r| r.host.clone())
        .collect();
    match etcd_hosts.len() {
        1 => {}
        0 => {
            let errs = etcd_errors(&good);
            let why = if errs.is_empty() {
                String::from("no host captured etcd")
            } else {
                errs.join("; ")
            };
            fails.push(format!("run {}: no etcd snapshot: {why}", input.run_id));
        }
        n => fails.push(format!(
            "run {}: {n} etcd snapshots (hosts {}), expected exactly one",
            input.run_id,
            etcd_hosts.join(", ")
        )),
    }
    if let Some(fm) = input.first_master
        && let Some(summary) = good.get(fm)
    {
        fails.extend(check_required(fm, summary, &input.require));
    }
    (rows, fails, etcd_hosts)
}

/// The human table of the report.
fn table(report: &RunReport) -> String {
    let mut t = format!(
        "run {}  destination {}  {}\n",
        report.run_id,
        report.destination,
        if report.passed { "PASSED" } else { "FAILED" }
    );
    t.push_str(&format!(
        "{:<28} {:<16} {:<56} {:>10}  {:<48} {}\n",
        "HOST", "GROUPS", "ARCHIVE", "SIZE", "SOURCES", "TIME"
    ));
    for r in &report.hosts {
        let sources: Vec<String> = r.sources.iter().map(|(n, s)| format!("{n}={s}")).collect();
        t.push_str(&format!(
            "{:<28} {:<16} {:<56} {:>10}  {:<48} {}\n",
            r.host,
            r.groups.join(","),
            r.archive.as_deref().unwrap_or("-"),
            r.size.map(human_bytes).unwrap_or_else(|| "-".into()),
            if sources.is_empty() {
                "-".into()
            } else {
                sources.join(" ")
            },
            r.time.as_deref().unwrap_or("-"),
        ));
    }
    t.push_str(&format!(
        "etcd snapshot: {}\n",
        report.etcd_snapshot_hosts.join(", ")
    ));
    for f in &report.failures {
        t.push_str(&format!("failed: {f}\n"));
    }
    t
}

/// Writes `text` to `path` with mode 0600, through a temporary name and a rename.
fn write_private(path: &Path, text: &str) -> Result<(), CliError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp-ocpvault");
    let tmp = PathBuf::from(tmp);
    let err = |e: std::io::Error| CliError::new(format!("{}: {e}", path.display()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// Seals the run: the record runs/ID.json at the destination, listing the host
/// names the archives carry (what `ocpvault run seal` writes).
fn seal(dest: &dyn Destination, run_id: &str, hosts: &[String]) -> Result<(), CliError> {
    let record = RunRecord::new(run_id, hosts, chrono::Utc::now());
    crate::ship::write_run_record(dest, &record).map_err(|e| {
        CliError::new(format!(
            "run {run_id}: the gate passed but sealing failed: {}",
            super::error_chain_text(&e)
        ))
    })
}

/// Runs the gate, writes the report and seals the run when the gate passes.
pub fn report(args: ReportArgs) -> CmdResult {
    let hosts: Vec<(String, Vec<String>)> = args.hosts.iter().map(|h| parse_host(h)).collect();
    let dest = args
        .s3
        .open_dest(&args.dest, Missing::Refuse { s3_hint: true })?;
    let listed: Vec<String> = dest.list()?.into_iter().map(|r| r.name).collect();
    let summaries = hosts
        .iter()
        .map(|(h, _)| (h.clone(), read_summary(&args.summaries, h)))
        .collect();
    let require = if args.require.is_empty() {
        FIRST_MASTER_PATHS.iter().map(|p| p.to_string()).collect()
    } else {
        args.require.clone()
    };
    let input = GateInput {
        run_id: &args.run_id,
        hosts,
        summaries,
        listed,
        first_master: args.first_master.as_deref(),
        require,
    };
    let (rows, failures, etcd_hosts) = run_gate(&input);
    let passed = failures.is_empty();
    let mut report = RunReport {
        run_id: args.run_id.clone(),
        destination: args.dest.clone(),
        passed,
        sealed: false,
        etcd_snapshot_hosts: etcd_hosts,
        first_master: args.first_master.clone(),
        failures,
        hosts: rows,
    };
    let mut seal_error = None;
    if passed && !args.no_seal {
        let names: Vec<String> = report
            .hosts
            .iter()
            .map(|r| r.hostname.clone().unwrap_or_else(|| r.host.clone()))
            .collect();
        match seal(dest.as_ref(), &args.run_id, &names) {
            Ok(()) => report.sealed = true,
            Err(e) => seal_error = Some(e),
        }
    }
    write_report(&args, &report)?;
    if let Some(e) = seal_error {
        return Err(e);
    }
    // Failures are the gate's findings (exit 1), not errors of this command.
    let mut err = std::io::stderr().lock();
    for f in &report.failures {
        let _ = writeln!(err, "ocpvault: {f}");
    }
    outln!("{}", table(&report).trim_end());
    Ok(if passed {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}

fn write_report(args: &ReportArgs, report: &RunReport) -> Result<(), CliError> {
    let base = |ext: &str| {
        args.report_dir
            .join(format!("ocpvault-run-{}.{ext}", args.run_id))
    };
    let json = serde_json::to_string_pretty(report)?;
    write_private(&base("json"), &(json + "\n"))?;
    write_private(&base("txt"), &table(report))
}
