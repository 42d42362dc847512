//! The RHEL 7 package (scripts/build-rpm.sh, packaging/ocpvault.spec): `rpm -qlp`
//! lists exactly the binary, the man pages of man/, bash completion and the config
//! file (`%config(noreplace)`); the package installs into a scratch rpm root (a
//! private database inside it) and the installed binary runs, reading the packaged
//! config. .ci/run builds the RPM after the static binary; outside CI, without the
//! RPM, the test skips with the reason; under CI=true it fails instead.

use crate::common::{in_ci, is_root};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// target/rpm/ocpvault-<version>-1.el7.x86_64.rpm, in this build's target directory.
fn rpm_path() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_ocpvault"))
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/ocpvault")
        .join("rpm")
        .join(format!("ocpvault-{VERSION}-1.el7.x86_64.rpm"))
}

/// The RPM, or None (after printing why) when it was not built; in CI a panic.
fn built_rpm() -> Option<PathBuf> {
    let rpm = rpm_path();
    if rpm.is_file() {
        return Some(rpm);
    }
    assert!(
        !in_ci(),
        "{} missing: .ci/run must run scripts/build-static.sh then scripts/build-rpm.sh",
        rpm.display()
    );
    eprintln!(
        "SKIP: {} not built (scripts/build-static.sh, then scripts/build-rpm.sh)",
        rpm.display()
    );
    None
}

fn rpm_query(args: &[&str], rpm: &Path) -> String {
    let out = Command::new("rpm")
        .args(args)
        .arg(rpm)
        .output()
        .expect("run rpm");
    assert!(
        out.status.success(),
        "rpm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 rpm output")
}

/// What the package must hold: one line per path, as `rpm -qlp` prints them.
fn expected_files() -> BTreeSet<String> {
    let mut want: BTreeSet<String> = [
        "/usr/bin/ocpvault",
        "/usr/share/bash-completion/completions/ocpvault",
        "/etc/ocpvault",
        "/etc/ocpvault/config.toml",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let man = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    for e in std::fs::read_dir(man).expect("read man/") {
        let name = e.unwrap().file_name().into_string().unwrap();
        let section = name.rsplit('.').next().unwrap().to_string();
        if section == "1" || section == "5" {
            want.insert(format!("/usr/share/man/man{section}/{name}.gz"));
        }
    }
    want
}

#[test]
fn the_rpm_holds_exactly_its_files_and_installs_into_a_scratch_root() {
    let Some(rpm) = built_rpm() else { return };
    let listed: BTreeSet<String> = rpm_query(&["-qlp"], &rpm)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(listed, expected_files());
    // The config file is %config(noreplace) (flags c and n), root-owned.
    let flags = rpm_query(
        &[
            "-qp",
            "--qf",
            "[%{FILENAMES} %{FILEFLAGS:fflags} %{FILEUSERNAME}\n]",
        ],
        &rpm,
    );
    assert!(
        flags.contains("/etc/ocpvault/config.toml cn root\n"),
        "{flags}"
    );
    // A static binary: no shared library is required, only rpm's own features (and
    // rtld(GNU_HASH), which rpm's elfdeps may note for a static-pie's hash section),
    // and RHEL 7's rpm (4.11) reads the payload.
    let requires = rpm_query(&["-qp", "--requires"], &rpm);
    for r in requires.lines() {
        assert!(
            r.starts_with("rpmlib(") || r.starts_with("config(ocpvault)") || r == "rtld(GNU_HASH)",
            "unexpected requirement {r}: is the packaged binary the static build?"
        );
    }
    assert!(!requires.contains("PayloadIsZstd"), "{requires}");
    assert_eq!(
        rpm_query(
            &["-qp", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}"],
            &rpm
        ),
        format!("ocpvault-{VERSION}-1.el7.x86_64")
    );
    if !is_root("installing the RPM into a scratch root (files owned by root)") {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    let mut install = Command::new("rpm");
    install
        .arg("--root")
        .arg(root)
        .args(["--dbpath", "/var/lib/rpm-scratch", "--nodeps", "-i"]);
    // Debian's rpm refuses to install without this flag; RHEL's has no such flag.
    let help = Command::new("rpm").arg("--help").output().unwrap();
    if String::from_utf8_lossy(&help.stdout).contains("--force-debian") {
        install.arg("--force-debian");
    }
    let out = install.arg(&rpm).output().unwrap();
    assert!(
        out.status.success(),
        "rpm -i: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = root.join("usr/bin/ocpvault");
    let out = Command::new(&bin).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ocpvault {VERSION}")
    );
    // The packaged config is valid and sets nothing: a command reading it works.
    let config = root.join("etc/ocpvault/config.toml");
    let out = Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .args(["snapshot", "--help"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the packaged config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let completion =
        std::fs::read_to_string(root.join("usr/share/bash-completion/completions/ocpvault"))
            .unwrap();
    assert!(
        completion.contains("complete -F"),
        "a bash completion script"
    );
    // The private database knows the package; the machine's own does not change.
    let out = Command::new("rpm")
        .arg("--root")
        .arg(root)
        .args(["--dbpath", "/var/lib/rpm-scratch", "-q", "ocpvault"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ocpvault-{VERSION}-1.el7.x86_64")
    );
}
