//! Progress bars (issue 7): drawn on stderr only when stderr is a terminal, never
//! with --quiet, never in stdout. stderr is a real pseudo-terminal here (Python's
//! os.openpty); stdout stays a pipe so --json output can be checked byte for byte.

use crate::common::{have_tool, snapshot};
use std::path::Path;
use std::process::Command;

/// Runs ocpvault with stderr on a pty and stdout on a pipe.
/// Returns (exit code, stdout, what was drawn on the terminal).
fn run_on_tty(args: &[&str]) -> (i32, String, String) {
    const DRIVER: &str = r#"
import os, subprocess, sys
master, slave = os.openpty()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
os.close(slave)
drawn = b""
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:
        break
    if not chunk:
        break
    drawn += chunk
out = p.stdout.read()
code = p.wait()
sys.stdout.buffer.write(b"%d\n" % code + b"%d\n" % len(out) + out + drawn)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(DRIVER)
        .arg(env!("CARGO_BIN_EXE_ocpvault"))
        .args(args)
        .output()
        .expect("run python3 pty driver");
    assert!(out.status.success(), "pty driver failed: {out:?}");
    let text = out.stdout;
    let mut lines = text.splitn(3, |b| *b == b'\n');
    let code: i32 = String::from_utf8_lossy(lines.next().unwrap())
        .parse()
        .unwrap();
    let len: usize = String::from_utf8_lossy(lines.next().unwrap())
        .parse()
        .unwrap();
    let rest = lines.next().unwrap_or_default();
    let (stdout, drawn) = rest.split_at(len);
    (
        code,
        String::from_utf8_lossy(stdout).into_owned(),
        String::from_utf8_lossy(drawn).into_owned(),
    )
}

/// A host tree with one 48 MiB file that compresses slowly enough to be drawn.
fn big_tree(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("root");
    let etc = root.join("etc/origin/master");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("master-config.yaml"), b"kind: MasterConfig\n").unwrap();
    let big = crate::common::incompressible(48 << 20, 0x9e37_79b9_7f4a_7c15);
    std::fs::write(etc.join("big.bin"), &big).unwrap();
    root
}

#[test]
fn snapshot_draws_compression_of_a_large_file_on_a_terminal_only() {
    if !have_tool("python3", "python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = big_tree(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let common = [
        "snapshot",
        "--root",
        root.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--etcd",
        "skip",
        "--projects",
        "skip",
        "--packages",
        "skip",
    ];
    let (code, stdout, drawn) = run_on_tty(&[&common[..], &["--json"]].concat());
    assert!(code == 0 || code == 1, "snapshot failed: {drawn}");
    assert!(
        drawn.contains("compressing /etc/origin/master/big.bin"),
        "no compression progress on the terminal: {drawn:?}"
    );
    // stdout is the JSON document alone: no bar, no escape sequence.
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("clean JSON on stdout");
    assert!(v["archive"].is_string());
    assert!(!stdout.contains('\u{1b}'));

    let (code, _, drawn) = run_on_tty(&[&common[..], &["--quiet"]].concat());
    assert!(code == 0 || code == 1);
    assert!(
        !drawn.contains("compressing"),
        "--quiet still drew progress: {drawn:?}"
    );
}

#[test]
fn ship_draws_hashing_and_upload_progress() {
    if !have_tool("python3", "python3") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = big_tree(dir.path());
    let out = dir.path().join("out");
    let dest = dir.path().join("dest");
    std::fs::create_dir(&out).unwrap();
    std::fs::create_dir(&dest).unwrap();
    let archive = snapshot(&root, &out, &["--packages", "skip"]);
    let (code, stdout, drawn) =
        run_on_tty(&["ship", archive.to_str().unwrap(), dest.to_str().unwrap()]);
    assert_eq!(code, 0, "ship failed: {drawn}");
    assert!(stdout.starts_with("shipped: "), "{stdout}");
    assert!(drawn.contains("hashing "), "no hashing bar: {drawn:?}");
    assert!(drawn.contains("uploading "), "no upload bar: {drawn:?}");
    let name = archive.file_name().unwrap();
    assert_eq!(
        std::fs::read(dest.join(name)).unwrap(),
        std::fs::read(&archive).unwrap()
    );

    let back = dir.path().join("back");
    std::fs::create_dir(&back).unwrap();
    let source = dest.join(name);
    let (code, stdout, drawn) = run_on_tty(&[
        "fetch",
        source.to_str().unwrap(),
        "--output",
        back.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "fetch failed: {drawn}");
    assert!(stdout.starts_with("fetched "), "{stdout}");
    assert!(drawn.contains("fetching "), "no fetch bar: {drawn:?}");
    assert_eq!(
        std::fs::read(back.join(name)).unwrap(),
        std::fs::read(&archive).unwrap()
    );

    // Shipping the same archive again reports it, in snake_case JSON.
    let (code, stdout, _) = run_on_tty(&[
        "ship",
        "--json",
        archive.to_str().unwrap(),
        dest.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("clean JSON");
    assert_eq!(v[0]["result"], "already_present");
}
