//! Shared helpers for the integration tests: the built binary, tool checks that skip
//! locally and fail in CI, and small assertions.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The ocpvault binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ocpvault"))
}

/// Runs ocpvault with `args`, returning its output.
pub fn ocpvault(args: &[&str]) -> Output {
    bin().args(args).output().expect("run ocpvault")
}

/// True when running in CI, where every real component must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Returns true when `tool` is on PATH. Otherwise prints why the test is skipped and
/// returns false, except in CI (CI=true), where a missing tool fails the test:
/// .ci/run installs every tool the tests need.
pub fn have_tool(tool: &str, package: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    if !found {
        assert!(
            !in_ci(),
            "{tool} is missing in CI; .ci/run must install Debian package {package}"
        );
        eprintln!("SKIP: {tool} not found (install Debian package {package})");
    }
    found
}

/// True when running as root; otherwise prints the skip reason.
pub fn is_root(why: &str) -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        eprintln!("SKIP: {why} needs root");
    }
    root
}

/// True when the filesystem under `dir` stores user.* xattrs; otherwise prints the
/// skip reason.
pub fn has_xattrs(dir: &Path) -> bool {
    let probe = dir.join(".xattr-probe");
    std::fs::write(&probe, b"").expect("write probe");
    let ok = xattr::set(&probe, "user.probe", b"1").is_ok();
    let _ = std::fs::remove_file(&probe);
    if !ok {
        eprintln!("SKIP: {} has no xattr support", dir.display());
    }
    ok
}

/// Asserts success and returns stdout as text.
pub fn stdout_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed with {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Path of the repository's testdata directory.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Generates the demo master host tree under `dir/root` and returns that path.
pub fn demo_tree(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    let out = Command::new("bash")
        .arg(testdata().join("make-host-tree.sh"))
        .arg(&root)
        .output()
        .expect("run make-host-tree.sh");
    assert!(
        out.status.success(),
        "make-host-tree.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    root
}

/// Takes a snapshot of `root` into `outdir` with extra args; returns the archive path.
/// The projects source is skipped unless `extra` sets `--projects`: the demo tree has
/// an admin kubeconfig, but no API server answers it here.
pub fn snapshot(root: &Path, outdir: &Path, extra: &[&str]) -> PathBuf {
    let mut args = vec![
        "snapshot",
        "--root",
        root.to_str().unwrap(),
        "--output",
        outdir.to_str().unwrap(),
        "--json",
    ];
    // The demo tree's etcd.conf names a member at 192.168.55.8 that does not exist
    // here; tests that want etcd pass their own --etcd flags.
    if !extra.iter().any(|a| a.starts_with("--etcd")) {
        args.extend_from_slice(&["--etcd", "skip"]);
    }
    if !extra.contains(&"--projects") {
        args.extend_from_slice(&["--projects", "skip"]);
    }
    args.extend_from_slice(extra);
    let out = ocpvault(&args);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "snapshot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("snapshot --json");
    PathBuf::from(v["archive"].as_str().expect("archive field"))
}

/// `len` pseudo-random bytes (xorshift64 from `seed`, which must not be 0): data zstd
/// cannot shrink, for tests that need large objects.
pub fn incompressible(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
pub mod craft;
pub mod witness;

/// Waits until `cond` holds (polling every 10 ms), at most `limit`; returns whether
/// it held. Tests wait on the condition they need instead of sleeping a fixed time.
pub fn wait_for(limit: std::time::Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    cond()
}

/// Returns once the wall clock has reached the next whole second, so two archives
/// named after their UTC second get different names.
pub fn next_second() {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs()
    };
    let start = now();
    assert!(wait_for(std::time::Duration::from_secs(3), || now() > start));
}

/// True when `dir` holds an entry whose name contains `part`.
pub fn has_entry_containing(dir: &Path, part: &str) -> bool {
    std::fs::read_dir(dir).is_ok_and(|rd| {
        rd.flatten()
            .any(|e| e.file_name().to_string_lossy().contains(part))
    })
}
