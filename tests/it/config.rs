//! The configuration file: its values are used, flags override them, and a bad key
//! is one line naming the file, the key and the problem.

use crate::common::{demo_tree, ocpvault};
use serde_json::Value;
use std::path::Path;

fn snapshot_json(root: &Path, config: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "--config",
        config.to_str().unwrap(),
        "snapshot",
        "--root",
        root.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = ocpvault(&args);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "snapshot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("snapshot --json")
}

#[test]
fn config_values_are_used_and_flags_override_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = demo_tree(dir.path());
    let (from_config, from_flag) = (dir.path().join("cfg-out"), dir.path().join("flag-out"));
    std::fs::create_dir_all(&from_config).unwrap();
    std::fs::create_dir_all(&from_flag).unwrap();
    let config = dir.path().join("config.toml");
    let text = format!(
        "[snapshot]\noutput = {:?}\nexclude = [\"/etc/origin/master/**\"]\nlevel = 7\n\
         [etcd]\nmode = \"skip\"\n[oc]\nprojects = \"skip\"\n",
        from_config.to_str().unwrap()
    );
    std::fs::write(&config, text).unwrap();

    let v = snapshot_json(&root, &config, &["--packages", "skip"]);
    let archive = v["archive"].as_str().expect("archive");
    assert!(
        archive.starts_with(from_config.to_str().unwrap()),
        "{archive}"
    );
    let ls = ocpvault(&["ls", archive, "/etc/origin/master/master-config.yaml"]);
    assert_eq!(ls.status.code(), Some(2), "the config's exclude applied");
    let etcd = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "etcd");
    assert_eq!(etcd.map(|s| &s["status"]), Some(&Value::from("skipped")));

    let v = snapshot_json(
        &root,
        &config,
        &[
            "--packages",
            "skip",
            "-o",
            from_flag.to_str().unwrap(),
            "--exclude",
            "/nothing",
        ],
    );
    let archive = v["archive"].as_str().expect("archive");
    assert!(
        archive.starts_with(from_flag.to_str().unwrap()),
        "{archive}"
    );
    let ls = ocpvault(&["ls", archive, "/etc/origin/master/master-config.yaml"]);
    assert_eq!(
        ls.status.code(),
        Some(0),
        "--exclude replaced the config's list"
    );
}

#[test]
fn a_bad_key_is_one_line_naming_file_key_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[retention]\nkeep_last = 3\nkeep_montly = 2\n").unwrap();
    let out = ocpvault(&["--config", config.to_str().unwrap(), "info", "x.ocpvault"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!(
            "ocpvault: config {}: retention.keep_montly: unknown field `keep_montly`, \
             expected one of `keep_last`, `keep_daily`, `keep_weekly` (line 3, column 1)",
            config.display()
        )
    );

    let json = dir.path().join("config.json");
    std::fs::write(&json, r#"{"etcd": {"mode": 3}}"#).unwrap();
    let env_out = crate::common::bin()
        .env("OCPVAULT_CONFIG", &json)
        .args(["info", "x.ocpvault"])
        .output()
        .unwrap();
    assert_eq!(env_out.status.code(), Some(2), "OCPVAULT_CONFIG is read");
    let stderr = String::from_utf8_lossy(&env_out.stderr);
    assert!(
        stderr.starts_with(&format!("ocpvault: config {}: etcd.mode: ", json.display())),
        "{stderr}"
    );
}

#[test]
fn a_missing_config_file_is_an_error() {
    let out = ocpvault(&[
        "--config",
        "/nonexistent/ocpvault.toml",
        "info",
        "x.ocpvault",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("config /nonexistent/ocpvault.toml:"),
        "{stderr}"
    );
}
