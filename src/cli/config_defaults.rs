//! Turns the configuration file into clap defaults, so that a flag given on the
//! command line always wins and `--help` shows the values in force. A list in the
//! file (includes, excludes, recipients, etcd endpoints) is replaced, not extended,
//! by the same flag given once or more.

use crate::config::Config;
use clap::Command;
use std::ffi::OsString;
use std::path::PathBuf;

/// The file named by `--config FILE` / `--config=FILE` (before any `--`), else by
/// a non-empty `OCPVAULT_CONFIG`.
pub fn explicit_path(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let Some(s) = a.to_str() else { continue };
        if s == "--" {
            break;
        }
        if s == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = s.strip_prefix("--config=") {
            return Some(PathBuf::from(v));
        }
    }
    std::env::var_os("OCPVAULT_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The commands that reach a destination and take `--s3-endpoint`.
const S3_COMMANDS: &[&[&str]] = &[&["snapshot"], &["ship"], &["list"], &["fetch"], &["prune"]];

/// One default: the subcommand path, the clap argument id, the values.
struct Default {
    command: &'static [&'static str],
    id: &'static str,
    values: Vec<String>,
}

/// Every default the file sets, with where it goes.
fn defaults(c: &Config) -> Vec<Default> {
    let path = |p: &Option<PathBuf>| p.iter().map(|p| p.display().to_string()).collect();
    let one = |v: Option<String>| v.into_iter().collect::<Vec<_>>();
    let num = |v: Option<usize>| one(v.map(|n| n.to_string()));
    let s = &c.snapshot;
    let mut out = vec![
        def(&["snapshot"], "output", path(&s.output)),
        def(&["snapshot"], "include", s.include.clone()),
        def(&["snapshot"], "exclude", s.exclude.clone()),
        def(&["snapshot"], "recipient", s.recipients.clone()),
        def(
            &["snapshot"],
            "recipients_file",
            s.recipients_files
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        ),
        def(&["snapshot"], "ship", one(s.ship.clone())),
        def(&["snapshot"], "level", one(s.level.map(|l| l.to_string()))),
        def(
            &["snapshot"],
            "etcd_mode",
            one(c.etcd.mode.map(|m| m.as_str().into())),
        ),
        def(&["snapshot"], "endpoints", c.etcd.endpoints.clone()),
        def(&["snapshot"], "cacert", path(&c.etcd.cacert)),
        def(&["snapshot"], "cert", path(&c.etcd.cert)),
        def(&["snapshot"], "key", path(&c.etcd.key)),
        def(&["snapshot"], "projects", one(c.oc.projects.clone())),
        def(&["prune"], "keep_last", num(c.retention.keep_last)),
        def(&["prune"], "keep_daily", num(c.retention.keep_daily)),
        def(&["prune"], "keep_weekly", num(c.retention.keep_weekly)),
    ];
    for cmd in [&["snapshot"][..], &["project", "restore"]] {
        out.push(def(cmd, "oc", path(&c.oc.path)));
        out.push(def(cmd, "kubeconfig", path(&c.oc.kubeconfig)));
    }
    for cmd in S3_COMMANDS {
        out.push(def(cmd, "s3_endpoint", one(c.s3.endpoint.clone())));
    }
    out
}

fn def(command: &'static [&'static str], id: &'static str, values: Vec<String>) -> Default {
    Default {
        command,
        id,
        values,
    }
}

/// Returns `cmd` with the file's values as argument defaults.
pub fn apply(mut cmd: Command, config: &Config) -> Command {
    for d in defaults(config) {
        if !d.values.is_empty() {
            cmd = set(cmd, d.command, d.id, d.values);
        }
    }
    cmd
}

fn set(cmd: Command, path: &[&str], id: &'static str, values: Vec<String>) -> Command {
    match path.split_first() {
        Some((first, rest)) => {
            let rest = rest.to_vec();
            cmd.mut_subcommand(*first, move |sub| set(sub, &rest, id, values))
        }
        None => cmd.mut_arg(id, |a| a.default_values(values)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::{CommandFactory, FromArgMatches};

    fn full() -> Config {
        crate::config::parse_toml(
            r#"
            [snapshot]
            output = "/backup"
            include = ["/etc/extra"]
            exclude = ["/etc/sysconfig/network-scripts/**"]
            recipients = ["age1x"]
            recipients_files = ["/etc/ocpvault/recipients"]
            ship = "/mnt/backups"
            level = 9
            [s3]
            endpoint = "http://minio:9000"
            [etcd]
            mode = "skip"
            endpoints = ["https://a:2379", "https://b:2379"]
            cacert = "/ca"
            cert = "/c"
            key = "/k"
            [oc]
            path = "/usr/bin/oc"
            kubeconfig = "/kc"
            projects = "skip"
            [retention]
            keep_last = 3
            keep_daily = 7
            keep_weekly = 4
            "#,
        )
        .expect("parse")
    }

    fn parse(args: &[&str]) -> Cli {
        let cmd = apply(Cli::command(), &full());
        cmd.clone().debug_assert();
        let m = cmd.try_get_matches_from(args).expect("parse args");
        Cli::from_arg_matches(&m).expect("from matches")
    }

    #[test]
    fn every_key_reaches_an_argument_and_flags_win() {
        let cli = parse(&["ocpvault", "snapshot"]);
        let crate::cli::Command::Snapshot(s) = cli.command else {
            panic!("snapshot")
        };
        assert_eq!(s.output, PathBuf::from("/backup"));
        assert_eq!((s.level, s.exclude.len()), (9, 1));
        assert_eq!(s.s3.s3_endpoint.as_deref(), Some("http://minio:9000"));
        assert_eq!(s.etcd.endpoints.len(), 2);
        let cli = parse(&[
            "ocpvault",
            "snapshot",
            "--level",
            "2",
            "--exclude",
            "/a",
            "-o",
            "/o",
        ]);
        let crate::cli::Command::Snapshot(s) = cli.command else {
            panic!("snapshot")
        };
        assert_eq!(
            (s.level, s.exclude, s.output),
            (2, vec!["/a".to_string()], "/o".into())
        );
    }

    #[test]
    fn retention_and_oc_reach_other_commands() {
        let cli = parse(&["ocpvault", "prune", "/d", "--keep-daily", "1"]);
        let crate::cli::Command::Prune(p) = cli.command else {
            panic!("prune")
        };
        assert_eq!((p.keep_last, p.keep_daily, p.keep_weekly), (3, 1, 4));
    }

    #[test]
    fn the_config_flag_is_found_before_parsing() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        let found = explicit_path(&args(&["ocpvault", "--config", "/x.toml", "ls", "a"]));
        assert_eq!(found, Some(PathBuf::from("/x.toml")));
        let found = explicit_path(&args(&["ocpvault", "ls", "--config=/y.json"]));
        assert_eq!(found, Some(PathBuf::from("/y.json")));
    }
}
