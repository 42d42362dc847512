//! The committed man pages match the clap definitions, the hand-written
//! ocpvault-archive(5) agrees with formats/archive-v1.md, and the completion
//! scripts name every subcommand.

use crate::common::{ocpvault, stdout_ok};
use std::collections::BTreeSet;
use std::path::Path;

const SUBCOMMANDS: &[&str] = &[
    "snapshot",
    "ls",
    "cat",
    "info",
    "verify",
    "diff",
    "restore",
    "ship",
    "list",
    "fetch",
    "prune",
    "packages",
    "etcd",
    "project",
    "completions",
];

fn man_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("man")
}

fn pages(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read man dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".1"))
        .collect()
}

#[test]
fn committed_man_pages_are_current() {
    let dir = tempfile::tempdir().unwrap();
    stdout_ok(&ocpvault(&["manpages", dir.path().to_str().unwrap()]));
    let fresh = pages(dir.path());
    let committed = pages(&man_dir());
    let refresh = "refresh with: cargo run -- manpages man";
    assert_eq!(
        fresh, committed,
        "man/ pages differ from the CLI; {refresh}"
    );
    for name in &fresh {
        let new = std::fs::read(dir.path().join(name)).unwrap();
        let old = std::fs::read(man_dir().join(name)).unwrap();
        assert!(new == old, "man/{name} is stale; {refresh}");
    }
    assert!(fresh.contains("ocpvault.1") && fresh.contains("ocpvault-packages-diff.1"));
    for sub in SUBCOMMANDS {
        assert!(
            fresh.contains(&format!("ocpvault-{sub}.1")),
            "no page for {sub}"
        );
    }
}

#[test]
fn the_archive_page_agrees_with_the_spec() {
    let formats = Path::new(env!("CARGO_MANIFEST_DIR")).join("formats");
    let spec = std::fs::read_to_string(formats.join("archive-v1.md")).unwrap()
        + &std::fs::read_to_string(formats.join("archive-v2.md")).unwrap();
    let page = std::fs::read_to_string(man_dir().join("ocpvault-archive.5")).unwrap();
    // Facts a reader of either must get the same way; roff escapes '-' as '\-'.
    let page = page.replace("\\-", "-");
    for fact in [
        "ocpvault-archive 2",
        "ocpvault-trailer 2",
        "packs/",
        "entries/",
        "objects-index/",
        "1,024",
        "256 KiB",
        "1 MiB",
        "manifest.json.zst",
        "index.json.zst",
        "TRAILER",
        "126",
        "1536",
        "256 MiB",
        "1 GiB",
        "16 Mi",
        "64 KiB",
        "0600",
        "/.ocpvault/",
        "\"base64\"",
        "sha256sum",
    ] {
        assert!(spec.contains(fact), "spec lacks {fact:?}; update this test");
        assert!(page.contains(fact), "ocpvault-archive.5 lacks {fact:?}");
    }
}

#[test]
fn completions_name_every_subcommand() {
    let bash = stdout_ok(&ocpvault(&["completions", "bash"]));
    assert!(bash.contains("complete -F _ocpvault"), "{bash}");
    for sub in SUBCOMMANDS {
        assert!(bash.contains(sub), "bash completion lacks {sub}");
    }
    for shell in ["zsh", "fish"] {
        let script = stdout_ok(&ocpvault(&["completions", shell]));
        assert!(
            script.contains("snapshot") && script.contains("identity"),
            "{shell}"
        );
    }
    let bad = ocpvault(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// The commands whose pages must carry examples (the others carry at least EXIT
/// STATUS, FILES and SEE ALSO).
const WITH_EXAMPLES: &[&str] = &[
    "ocpvault.1",
    "ocpvault-snapshot.1",
    "ocpvault-restore.1",
    "ocpvault-verify.1",
    "ocpvault-ship.1",
    "ocpvault-fetch.1",
    "ocpvault-list.1",
    "ocpvault-prune.1",
    "ocpvault-diff.1",
    "ocpvault-info.1",
    "ocpvault-ls.1",
    "ocpvault-cat.1",
    "ocpvault-packages.1",
    "ocpvault-etcd.1",
    "ocpvault-project.1",
];

#[test]
fn pages_have_examples_exit_status_files_and_see_also() {
    let all = pages(&man_dir());
    for name in &all {
        let page = std::fs::read_to_string(man_dir().join(name)).unwrap();
        let page = page.replace("\\-", "-");
        for section in [".SH \"EXIT STATUS\"", ".SH FILES", ".SH \"SEE ALSO\""] {
            assert!(page.contains(section), "man/{name} lacks {section}");
        }
        assert!(page.contains("/etc/ocpvault/config.toml"), "man/{name}");
        assert!(page.contains(".B 2\n"), "man/{name} lacks exit status 2");
        // Every ocpvault page named in SEE ALSO exists.
        let see_also = &page[page.find(".SH \"SEE ALSO\"").unwrap()..];
        let mut named = 0;
        for word in see_also.split([',', '\n', ' ']) {
            let word = word.trim_start_matches("\\fB");
            if let Some((page, sec)) = word.split_once("\\fR(") {
                if page.starts_with("ocpvault") {
                    let file = format!("{page}.{}", sec.trim_end_matches([')', '.']));
                    assert!(man_dir().join(&file).is_file(), "man/{name} names {file}");
                    named += 1;
                }
            }
        }
        assert!(named > 0, "man/{name} names no other ocpvault page");
    }
    for name in WITH_EXAMPLES {
        let page = std::fs::read_to_string(man_dir().join(name)).unwrap();
        assert!(page.contains(".SH EXAMPLES"), "man/{name} lacks EXAMPLES");
        // Examples come before VERSION, after clap's sections.
        if let Some(v) = page.find(".SH VERSION") {
            assert!(page.find(".SH EXAMPLES").unwrap() < v, "man/{name}");
        }
    }
    let top = std::fs::read_to_string(man_dir().join("ocpvault.1")).unwrap();
    assert!(top.contains("\\fBocpvault\\-config\\fR(5)"), "{top}");
}

#[test]
fn the_config_page_names_every_key_and_the_error_hint_points_at_it() {
    let spec =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("formats/config.md"))
            .unwrap();
    let page = std::fs::read_to_string(man_dir().join("ocpvault-config.5"))
        .unwrap()
        .replace("\\-", "-");
    let keys: Vec<&str> = spec
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    assert!(keys.len() >= 19, "{keys:?}");
    for key in keys {
        assert!(
            page.contains(&format!(".B {key}\n")),
            "ocpvault-config.5 lacks {key}"
        );
    }
    for path in [
        "/etc/ocpvault/config.toml",
        "/etc/ocpvault/config.json",
        "OCPVAULT_CONFIG",
    ] {
        assert!(page.contains(path), "ocpvault-config.5 lacks {path}");
    }
    // A bad key's hint names the installed page, not a file of the source tree.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[retention]\nkeep_montly = 3\n").unwrap();
    let out = ocpvault(&["--config", cfg.to_str().unwrap(), "list", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("keep_montly"), "{err}");
    assert!(
        err.contains("hint: ") && err.contains("man 5 ocpvault-config"),
        "{err}"
    );
    assert!(!err.contains("formats/"), "{err}");
}
