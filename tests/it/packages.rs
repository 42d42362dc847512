//! The packages source and `ocpvault packages list|diff`, end to end against a real
//! rpm database: tiny noarch packages built with rpmbuild and installed with rpm into
//! a temporary root (Debian package `rpm`; .ci/run installs it).

use crate::common::{have_tool, ocpvault, snapshot, stdout_ok};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The database directory inside the lab root, passed to rpm and ocpvault alike.
/// Debian's rpm defaults to ~/.rpmdb, so every call names it.
const DBPATH: &str = "/var/lib/rpm";

/// A temporary rpm build tree and an installed-system root with its own database.
struct RpmLab {
    dir: tempfile::TempDir,
}

impl RpmLab {
    /// None (with the skip reason printed) when rpm is not installed here.
    fn new() -> Option<Self> {
        if !have_tool("rpmbuild", "rpm") || !have_tool("rpm", "rpm") {
            return None;
        }
        let lab = Self {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir_all(lab.root()).expect("create root");
        std::fs::create_dir_all(lab.host()).expect("create host tree");
        lab.rpm(&["--initdb"]);
        Some(lab)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The installed system rpm works on.
    fn root(&self) -> PathBuf {
        self.path("root")
    }

    /// An (empty) host tree for `snapshot --root`.
    fn host(&self) -> PathBuf {
        self.path("host")
    }

    /// Builds `name-[epoch:]version-release.noarch.rpm` and returns its path.
    fn build(&self, name: &str, epoch: Option<u32>, version: &str, release: &str) -> PathBuf {
        let top = self.path("rpmbuild");
        std::fs::create_dir_all(&top).expect("create _topdir");
        let spec = top.join(format!("{name}-{version}-{release}.spec"));
        let epoch = epoch.map_or(String::new(), |e| format!("Epoch: {e}\n"));
        std::fs::write(
            &spec,
            format!(
                "Name: {name}\n{epoch}Version: {version}\nRelease: {release}\n\
                 Summary: ocpvault test package\nLicense: MIT\nBuildArch: noarch\n\
                 %description\nAn empty package for the ocpvault packages tests.\n%files\n"
            ),
        )
        .expect("write spec");
        let out = Command::new("rpmbuild")
            .env("LC_ALL", "C")
            .env("HOME", self.dir.path())
            .arg("--define")
            .arg(format!("_topdir {}", top.display()))
            // rpmbuild opens an rpm database too; keep it out of $HOME.
            .arg("--define")
            .arg(format!("_dbpath {}", self.path("builddb").display()))
            .arg("-bb")
            .arg(&spec)
            .output()
            .expect("run rpmbuild");
        assert_success("rpmbuild", &out);
        top.join(format!("RPMS/noarch/{name}-{version}-{release}.noarch.rpm"))
    }

    /// Runs rpm against the lab root and database.
    fn rpm(&self, args: &[&str]) -> Output {
        let out = Command::new("rpm")
            .env("LC_ALL", "C")
            .env("HOME", self.dir.path())
            .arg("--root")
            .arg(self.root())
            .args(["--dbpath", DBPATH])
            .args(args)
            .output()
            .expect("run rpm");
        assert_success("rpm", &out);
        out
    }

    fn install(&self, package: &Path) {
        self.rpm(&["-i", package.to_str().unwrap()]);
    }

    /// `rpm -qa | LC_ALL=C sort`, as the guide's packages.txt.
    fn listing(&self) -> Vec<u8> {
        let mut lines: Vec<Vec<u8>> = self
            .rpm(&["-qa"])
            .stdout
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| [l, b"\n"].concat())
            .collect();
        lines.sort();
        lines.concat()
    }

    /// The ocpvault options that point at the lab database.
    fn rpm_args(&self) -> Vec<String> {
        vec![
            "--rpm-root".into(),
            self.root().display().to_string(),
            "--rpm-dbpath".into(),
            DBPATH.into(),
        ]
    }

    /// Snapshots the empty host tree with the lab's packages; returns the archive.
    fn snapshot(&self) -> PathBuf {
        let out = self.path("archives");
        std::fs::create_dir_all(&out).expect("create output dir");
        let args = self.rpm_args();
        let mut extra: Vec<&str> = vec!["--no-default-paths"];
        extra.extend(args.iter().map(String::as_str));
        snapshot(&self.host(), &out, &extra)
    }

    /// Runs `ocpvault packages diff ARCHIVE --against live` on the lab, plus `extra`.
    fn diff_live(&self, archive: &Path, extra: &[&str]) -> Output {
        let args = self.rpm_args();
        let mut all = vec!["packages", "diff", archive.to_str().unwrap()];
        all.extend(args.iter().map(String::as_str));
        all.extend_from_slice(extra);
        ocpvault(&all)
    }

    /// The three packages every test starts from: one with an epoch, one with `~`.
    fn install_base(&self) {
        self.install(&self.build("alpha", None, "1.0", "1"));
        self.install(&self.build("beta", Some(1), "2.0", "3.el7"));
        self.install(&self.build("gamma", None, "0.9~rc1", "1"));
    }

    /// After the snapshot: upgrade alpha, remove gamma, add delta.
    fn drift(&self) {
        let alpha = self.build("alpha", None, "1.1", "1");
        self.rpm(&["-U", alpha.to_str().unwrap()]);
        self.rpm(&["-e", "gamma"]);
        self.install(&self.build("delta", None, "3.0", "2"));
    }
}

fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Exit code and stdout of a command expected to report drift (exit 1).
fn drift_output(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit 1 (drift)\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

/// The `packages` source report of an archive, from `info --json`.
fn packages_source(archive: &Path) -> serde_json::Value {
    let info = stdout_ok(&ocpvault(&["info", archive.to_str().unwrap(), "--json"]));
    let v: serde_json::Value = serde_json::from_str(&info).expect("info --json");
    v["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|s| s["name"] == "packages")
        .cloned()
        .expect("a packages source")
}

#[test]
fn snapshot_stores_the_list_and_a_listing_identical_to_rpm_qa_sort() {
    let Some(lab) = RpmLab::new() else { return };
    lab.install_base();
    let archive = lab.snapshot();
    let a = archive.to_str().unwrap();

    let source = packages_source(&archive);
    assert_eq!(source["status"], "captured");
    assert_eq!(source["captured"], 3);

    let list = stdout_ok(&ocpvault(&["packages", "list", a]));
    assert_eq!(
        list,
        "alpha-1.0-1.noarch\nbeta-1:2.0-3.el7.noarch\ngamma-0.9~rc1-1.noarch\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout_ok(&ocpvault(&["packages", "list", a, "--json"])))
            .expect("list --json");
    assert_eq!(
        json,
        serde_json::json!([
            {"name": "alpha", "epoch": null, "version": "1.0", "release": "1", "arch": "noarch"},
            {"name": "beta", "epoch": 1, "version": "2.0", "release": "3.el7", "arch": "noarch"},
            {"name": "gamma", "epoch": null, "version": "0.9~rc1", "release": "1", "arch": "noarch"},
        ])
    );

    let txt = ocpvault(&["cat", a, "/.ocpvault/packages/packages.txt"]);
    assert_success("cat packages.txt", &txt);
    assert_eq!(txt.stdout, lab.listing());
    assert_eq!(
        String::from_utf8_lossy(&txt.stdout),
        "alpha-1.0-1.noarch\nbeta-2.0-3.el7.noarch\ngamma-0.9~rc1-1.noarch\n"
    );
    let doc = stdout_ok(&ocpvault(&["cat", a, "/.ocpvault/packages/packages.json"]));
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("packages.json");
    assert_eq!(
        (doc["format"].as_str(), doc["version"].as_u64()),
        (Some("ocpvault-packages"), Some(1))
    );
    assert_eq!(doc["packages"], json);
}

/// A RHEL tree mounted elsewhere (`snapshot --root`) keeps its database at
/// /var/lib/rpm, whatever the rpm running here calls its default (Debian's rpm says
/// ~/.rpmdb): the snapshot finds the tree's database without --rpm-dbpath.
#[test]
fn snapshot_of_another_root_finds_the_tree_rpm_database() {
    let Some(lab) = RpmLab::new() else { return };
    lab.install_base();
    let out = lab.path("archives-root");
    std::fs::create_dir_all(&out).expect("create output dir");
    // The lab root is the installed system: snapshot it as --root, no rpm flags.
    let archive = snapshot(&lab.root(), &out, &["--no-default-paths"]);
    let source = packages_source(&archive);
    assert_eq!(source["status"], "captured", "{source}");
    assert_eq!(source["captured"], 3);
    assert_eq!(source["details"]["dbpath"], DBPATH);
    let list = stdout_ok(&ocpvault(&["packages", "list", archive.to_str().unwrap()]));
    assert!(list.starts_with("alpha-1.0-1.noarch\n"), "{list}");
}

#[test]
fn diff_against_live_shows_upgrade_removal_and_addition_in_every_format() {
    let Some(lab) = RpmLab::new() else { return };
    lab.install_base();
    let archive = lab.snapshot();
    let unchanged = lab.diff_live(&archive, &[]);
    assert_eq!(unchanged.status.code(), Some(0), "no drift exits 0");
    lab.drift();

    let text = drift_output(&lab.diff_live(&archive, &[]));
    let expected = format!(
        "archived: 3 packages in {}\n\
         current:  3 packages in the rpm database of {}\n\
         CHANGE    NAME   ARCH    ARCHIVED   CURRENT\n\
         upgraded  alpha  noarch  1.0-1      1.1-1\n\
         added     delta  noarch  -          3.0-2\n\
         missing   gamma  noarch  0.9~rc1-1  -\n\
         1 missing, 1 added, 1 upgraded, 0 downgraded, 1 unchanged\n",
        archive.display(),
        lab.root().display()
    );
    assert_eq!(text, expected);

    let json: serde_json::Value =
        serde_json::from_str(&drift_output(&lab.diff_live(&archive, &["--json"])))
            .expect("diff --json");
    assert_eq!(
        json,
        serde_json::json!([
            {"name": "alpha", "arch": "noarch", "archived": "1.0-1", "current": "1.1-1", "change": "upgraded"},
            {"name": "delta", "arch": "noarch", "archived": null, "current": "3.0-2", "change": "added"},
            {"name": "gamma", "arch": "noarch", "archived": "0.9~rc1-1", "current": null, "change": "missing"},
        ])
    );

    let yum = drift_output(&lab.diff_live(&archive, &["--format", "yum"]));
    assert_eq!(
        yum,
        "yum install -y gamma-0.9~rc1-1.noarch\n\
         # 1 upgraded package(s) left at their new version; add --restore-versions to downgrade them\n\
         # 1 added package(s) not in the archive, left installed: delta-3.0-2.noarch\n"
    );
    let restore =
        drift_output(&lab.diff_live(&archive, &["--format", "yum", "--restore-versions"]));
    assert_eq!(
        restore,
        "yum install -y gamma-0.9~rc1-1.noarch\n\
         yum downgrade -y alpha-1.0-1.noarch\n\
         # 1 added package(s) not in the archive, left installed: delta-3.0-2.noarch\n"
    );
}

#[test]
fn diff_against_a_packages_txt_file_ignores_the_epochs_it_lacks() {
    let Some(lab) = RpmLab::new() else { return };
    lab.install_base();
    let archive = lab.snapshot();
    lab.drift();
    // The guide's own listing: `rpm -qa | sort > /tmp/current_packages.txt`.
    let file = lab.path("current_packages.txt");
    std::fs::write(&file, lab.listing()).expect("write listing");
    let f = file.to_str().unwrap();

    let text = drift_output(&ocpvault(&[
        "packages",
        "diff",
        archive.to_str().unwrap(),
        "--against",
        f,
    ]));
    // beta is 1:2.0-3.el7 in the archive and 2.0-3.el7 in the epoch-less listing:
    // unchanged, not a downgrade.
    let expected = format!(
        "archived: 3 packages in {}\n\
         current:  3 packages in {f}\n\
         CHANGE    NAME   ARCH    ARCHIVED   CURRENT\n\
         upgraded  alpha  noarch  1.0-1      1.1-1\n\
         added     delta  noarch  -          3.0-2\n\
         missing   gamma  noarch  0.9~rc1-1  -\n\
         1 missing, 1 added, 1 upgraded, 0 downgraded, 1 unchanged\n",
        archive.display()
    );
    assert_eq!(text, expected);

    // A hand-edited listing with an older beta and no alpha, in any order.
    std::fs::write(&file, "beta-2.0-2.el7.noarch\r\n\ngamma-0.9~rc1-1.noarch\n").unwrap();
    let yum = drift_output(&ocpvault(&[
        "packages",
        "diff",
        archive.to_str().unwrap(),
        "--against",
        f,
        "--format",
        "yum",
    ]));
    assert_eq!(
        yum,
        "yum install -y alpha-1.0-1.noarch\n\
         # 1 downgraded package(s) older than archived, left as they are: beta-2.0-2.el7.noarch\n"
    );

    std::fs::write(&file, "alpha-1.0-1.noarch\nnot a package line\n").unwrap();
    let bad = ocpvault(&[
        "packages",
        "diff",
        archive.to_str().unwrap(),
        "--against",
        f,
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr),
        format!("ocpvault: {f}: line 2: \"not a package line\" is not name-version-release.arch\n")
    );
}

#[test]
fn diff_against_another_archive_reports_a_downgrade_with_its_epoch() {
    let Some(lab) = RpmLab::new() else { return };
    lab.install_base();
    let before = lab.snapshot();
    let older_beta = lab.build("beta", Some(1), "2.0", "2.el7");
    lab.rpm(&["-U", "--oldpackage", older_beta.to_str().unwrap()]);
    let after = lab.snapshot();
    let (b, a) = (before.to_str().unwrap(), after.to_str().unwrap());

    let json = drift_output(&ocpvault(&[
        "packages",
        "diff",
        b,
        "--against",
        a,
        "--json",
    ]));
    let json: serde_json::Value = serde_json::from_str(&json).expect("diff --json");
    assert_eq!(
        json,
        serde_json::json!([
            {"name": "beta", "arch": "noarch", "archived": "1:2.0-3.el7", "current": "1:2.0-2.el7", "change": "downgraded"},
        ])
    );
    let same = ocpvault(&["packages", "diff", b, "--against", b]);
    assert_eq!(
        stdout_ok(&same),
        format!(
            "archived: 3 packages in {b}\ncurrent:  3 packages in {b}\n\
             0 missing, 0 added, 0 upgraded, 0 downgraded, 3 unchanged\n"
        )
    );
}

#[test]
fn a_broken_rpm_database_fails_only_the_packages_source() {
    let Some(lab) = RpmLab::new() else { return };
    let db = lab.root().join("var/lib/rpm");
    std::fs::remove_dir_all(&db).expect("remove database");
    std::fs::create_dir_all(&db).expect("create database dir");
    std::fs::write(db.join("rpmdb.sqlite"), vec![0x5a; 8192]).expect("write garbage");
    std::fs::create_dir_all(lab.host().join("etc/origin")).unwrap();
    std::fs::write(
        lab.host().join("etc/origin/master-config.yaml"),
        "kind: x\n",
    )
    .unwrap();

    let out_dir = lab.path("archives");
    std::fs::create_dir(&out_dir).unwrap();
    let (host, out_dir) = (lab.host(), out_dir.to_str().unwrap().to_string());
    let args = lab.rpm_args();
    let mut cmd = vec!["snapshot", "--root", host.to_str().unwrap(), "-o", &out_dir];
    cmd.extend(["--no-default-paths", "--include", "/etc/origin", "--json"]);
    cmd.extend(args.iter().map(String::as_str));
    let out = ocpvault(&cmd);
    assert_eq!(out.status.code(), Some(1), "a failed source exits 1");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("summary");
    let archive = PathBuf::from(summary["archive"].as_str().unwrap());
    let source = packages_source(&archive);
    assert_eq!(source["status"], "failed");
    let error = source["details"]["error"].as_str().unwrap();
    let command = format!(
        "rpm --root {} --dbpath {DBPATH} -qa --queryformat ... failed (exit status: 1): ",
        lab.root().display()
    );
    assert!(error.starts_with(&command), "{error}");
    assert!(
        error.contains("rpmdb") || error.contains("database"),
        "{error}"
    );
    let cat = ocpvault(&[
        "cat",
        archive.to_str().unwrap(),
        "/etc/origin/master-config.yaml",
    ]);
    assert_eq!(stdout_ok(&cat), "kind: x\n", "the files are still archived");
    let list = ocpvault(&["packages", "list", archive.to_str().unwrap()]);
    assert_eq!(list.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&list.stderr).contains("packages source failed"));
}

/// Snapshot of a one-file tree with PATH holding no rpm; returns the exit code and the
/// packages source report.
fn snapshot_without_rpm(mode: &str) -> (Option<i32>, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let (root, out, bin) = (
        dir.path().join("root"),
        dir.path().join("out"),
        dir.path().join("bin"),
    );
    for d in [&root.join("etc/origin"), &out, &bin] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(root.join("etc/origin/a.yaml"), "a\n").unwrap();
    let run = crate::common::bin()
        .env("PATH", &bin)
        .args([
            "snapshot",
            "--root",
            root.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .args(["--no-default-paths", "--include", "/etc/origin", "--json"])
        .args(["--packages", mode])
        .output()
        .expect("run ocpvault");
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).expect("summary");
    let archive = PathBuf::from(summary["archive"].as_str().unwrap());
    let source = packages_source(&archive);
    let listing = stdout_ok(&ocpvault(&["ls", archive.to_str().unwrap()]));
    assert_eq!(
        listing, "/etc\n/etc/origin\n/etc/origin/a.yaml\n",
        "files are archived"
    );
    (run.status.code(), source)
}

#[test]
fn a_host_without_rpm_skips_the_source_unless_required() {
    let (code, source) = snapshot_without_rpm("auto");
    assert_eq!(code, Some(0));
    assert_eq!(source["status"], "skipped");
    assert_eq!(source["details"]["reason"], "rpm not found on PATH");

    let (code, source) = snapshot_without_rpm("require");
    assert_eq!(code, Some(1));
    assert_eq!(source["status"], "failed");
    assert_eq!(source["details"]["error"], "rpm not found on PATH");

    let (code, source) = snapshot_without_rpm("skip");
    assert_eq!(code, Some(0));
    assert_eq!(source["details"]["reason"], "turned off (--packages skip)");
}

#[test]
fn diff_usage_errors_exit_2() {
    let Some(lab) = RpmLab::new() else { return };
    lab.install_base();
    let archive = lab.snapshot();
    let a = archive.to_str().unwrap();
    let out = ocpvault(&["packages", "diff", a, "--restore-versions"]);
    assert_eq!(out.status.code(), Some(2));
    let root = lab.root();
    let r = root.to_str().unwrap();
    let out = ocpvault(&[
        "packages",
        "diff",
        a,
        "--rpm-root",
        r,
        "--rpm-dbpath",
        "var/lib/rpm",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a relative --rpm-dbpath is refused"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be absolute"));
    let empty = lab.path("empty-root");
    std::fs::create_dir(&empty).unwrap();
    let out = ocpvault(&[
        "packages",
        "diff",
        a,
        "--rpm-root",
        empty.to_str().unwrap(),
        "--rpm-dbpath",
        DBPATH,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with(&format!(
            "ocpvault: no rpm database at {}/var/lib/rpm\n",
            empty.display()
        )),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !empty.join("var").exists(),
        "rpm must not create a database"
    );
}
