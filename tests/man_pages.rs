//! The committed man pages match the clap definitions, the hand-written
//! ocpvault-archive(5) agrees with formats/archive-v1.md, and the completion
//! scripts name every subcommand.

mod common;

use common::{ocpvault, stdout_ok};
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
    let spec = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("formats/archive-v1.md"),
    )
    .unwrap();
    let page = std::fs::read_to_string(man_dir().join("ocpvault-archive.5")).unwrap();
    // Facts a reader of either must get the same way; roff escapes '-' as '\-'.
    let page = page.replace("\\-", "-");
    for fact in [
        "ocpvault-archive 1",
        "ocpvault-trailer 1",
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
        "sha256sum -c -",
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
