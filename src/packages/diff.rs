//! Package drift: classify every `name.arch` of an archived list against a current
//! list, and turn the result into yum commands that put the archived set back.
//!
//! Classification (formats/packages-json.md, "Drift"): when each side holds exactly
//! one package of a `name.arch`, the two are compared with rpm's ordering (epoch,
//! version, release) and the result is unchanged, upgraded or downgraded. When either
//! side holds several (install-only packages such as kernel, gpg-pubkey), packages
//! with an equal version on both sides are unchanged, the rest of the archived ones are
//! missing and the rest of the current ones added.

use super::list::Package;
use super::vercmp::compare_evr;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// How one package differs between the archive and now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// In the archive, not installed now.
    Missing,
    /// Installed now, not in the archive.
    Added,
    /// Installed now in a newer version than archived.
    Upgraded,
    /// Installed now in an older version than archived.
    Downgraded,
}

impl Change {
    /// Every change, in the order reports list their counts.
    pub const ALL: [Change; 4] = [
        Change::Missing,
        Change::Added,
        Change::Upgraded,
        Change::Downgraded,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Added => "added",
            Self::Upgraded => "upgraded",
            Self::Downgraded => "downgraded",
        }
    }
}

/// One changed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageChange {
    pub change: Change,
    /// The archived package (absent for added ones).
    pub archived: Option<Package>,
    /// The package installed now (absent for missing ones).
    pub current: Option<Package>,
}

/// The `packages diff --json` record of one change (formats/packages-json.md).
#[derive(Debug, Serialize)]
pub struct ChangeRecord<'a> {
    pub name: &'a str,
    pub arch: Option<&'a str>,
    pub archived: Option<String>,
    pub current: Option<String>,
    pub change: Change,
}

impl PackageChange {
    fn package(&self) -> &Package {
        self.archived
            .as_ref()
            .or(self.current.as_ref())
            .expect("a change has at least one side")
    }

    pub fn name(&self) -> &str {
        &self.package().name
    }

    pub fn arch(&self) -> Option<&str> {
        self.package().arch.as_deref()
    }

    /// The JSON record of this change.
    pub fn record(&self) -> ChangeRecord<'_> {
        ChangeRecord {
            name: self.name(),
            arch: self.arch(),
            archived: self.archived.as_ref().map(Package::evr),
            current: self.current.as_ref().map(Package::evr),
            change: self.change,
        }
    }
}

/// How to compare.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiffOptions {
    /// Compare version and release only: the current list carries no epochs (a plain
    /// `rpm -qa` listing), so an archived epoch must not read as a downgrade.
    pub ignore_epoch: bool,
}

/// The whole comparison.
#[derive(Debug, Default)]
pub struct DiffReport {
    /// Changed packages, sorted by name, arch and change.
    pub changes: Vec<PackageChange>,
    /// Packages identical on both sides.
    pub unchanged: usize,
    pub archived_total: usize,
    pub current_total: usize,
}

impl DiffReport {
    /// How many changes of this kind.
    pub fn count(&self, change: Change) -> usize {
        self.changes.iter().filter(|c| c.change == change).count()
    }

    /// True when anything changed.
    pub fn has_drift(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The changes of one kind.
    pub fn of(&self, change: Change) -> impl Iterator<Item = &PackageChange> {
        self.changes.iter().filter(move |c| c.change == change)
    }
}

type Key<'a> = (&'a str, Option<&'a str>);

/// Compares the archived list with the current one.
pub fn diff_packages(archived: &[Package], current: &[Package], opts: DiffOptions) -> DiffReport {
    let mut groups: BTreeMap<Key, (Vec<&Package>, Vec<&Package>)> = BTreeMap::new();
    for p in archived {
        groups.entry(key(p)).or_default().0.push(p);
    }
    for p in current {
        groups.entry(key(p)).or_default().1.push(p);
    }
    let mut report = DiffReport {
        archived_total: archived.len(),
        current_total: current.len(),
        ..DiffReport::default()
    };
    for (old, new) in groups.values() {
        if let ([a], [c]) = (old.as_slice(), new.as_slice()) {
            compare_pair(a, c, opts, &mut report);
        } else {
            match_versions(old, new, opts, &mut report);
        }
    }
    report
        .changes
        .sort_by(|a, b| (a.name(), a.arch(), a.change).cmp(&(b.name(), b.arch(), b.change)));
    report
}

fn key(p: &Package) -> Key<'_> {
    (&p.name, p.arch.as_deref())
}

fn compare(a: &Package, b: &Package, opts: DiffOptions) -> Ordering {
    if opts.ignore_epoch {
        compare_evr(
            (None, &a.version, &a.release),
            (None, &b.version, &b.release),
        )
    } else {
        a.cmp_evr(b)
    }
}

fn compare_pair(a: &Package, c: &Package, opts: DiffOptions, report: &mut DiffReport) {
    let change = match compare(a, c, opts) {
        Ordering::Equal => {
            report.unchanged += 1;
            return;
        }
        Ordering::Less => Change::Upgraded,
        Ordering::Greater => Change::Downgraded,
    };
    report.changes.push(PackageChange {
        change,
        archived: Some(a.clone()),
        current: Some(c.clone()),
    });
}

/// Several versions of one name.arch on a side: pair equal versions, report the rest.
fn match_versions(old: &[&Package], new: &[&Package], opts: DiffOptions, report: &mut DiffReport) {
    let mut unused: Vec<&Package> = new.to_vec();
    for a in old {
        match unused
            .iter()
            .position(|c| compare(a, c, opts) == Ordering::Equal)
        {
            Some(i) => {
                unused.remove(i);
                report.unchanged += 1;
            }
            None => report.changes.push(PackageChange {
                change: Change::Missing,
                archived: Some((*a).clone()),
                current: None,
            }),
        }
    }
    for c in unused {
        report.changes.push(PackageChange {
            change: Change::Added,
            archived: None,
            current: Some(c.clone()),
        });
    }
}

/// Shell commands (and `#` comments) that reinstall what is missing and, with
/// `restore_versions`, downgrade what was upgraded, each to its archived
/// `name-version-release.arch`. Every line is safe to paste into a shell.
pub fn yum_commands(report: &DiffReport, restore_versions: bool) -> Vec<String> {
    let mut lines = Vec::new();
    if !report.has_drift() {
        lines.push("# no drift: nothing to run".to_string());
        return lines;
    }
    let (keys, missing): (Vec<&Package>, Vec<&Package>) = report
        .of(Change::Missing)
        .filter_map(|c| c.archived.as_ref())
        .partition(|p| p.name == "gpg-pubkey");
    push_command(&mut lines, "yum install -y", &missing);
    let upgraded: Vec<&Package> = report
        .of(Change::Upgraded)
        .filter_map(|c| c.archived.as_ref())
        .collect();
    if restore_versions {
        push_command(&mut lines, "yum downgrade -y", &upgraded);
    } else if !upgraded.is_empty() {
        lines.push(format!(
            "# {} upgraded package(s) left at their new version; add --restore-versions to downgrade them",
            upgraded.len()
        ));
    }
    for key in keys {
        lines.push(format!(
            "# missing signing key {}: import it again with rpm --import",
            shell_word(&key.nvra())
        ));
    }
    push_note(
        &mut lines,
        report,
        Change::Downgraded,
        "older than archived, left as they are",
    );
    push_note(
        &mut lines,
        report,
        Change::Added,
        "not in the archive, left installed",
    );
    lines
}

fn push_command(lines: &mut Vec<String>, command: &str, packages: &[&Package]) {
    if packages.is_empty() {
        return;
    }
    let words: Vec<String> = packages.iter().map(|p| shell_word(&p.nvra())).collect();
    lines.push(format!("{command} {}", words.join(" ")));
}

fn push_note(lines: &mut Vec<String>, report: &DiffReport, change: Change, what: &str) {
    let names: Vec<String> = report
        .of(change)
        .filter_map(|c| c.current.as_ref())
        .map(|p| shell_word(&p.nvra()))
        .collect();
    if !names.is_empty() {
        lines.push(format!(
            "# {} {} package(s) {what}: {}",
            names.len(),
            change.as_str(),
            names.join(" ")
        ));
    }
}

pub use crate::shell::quote as shell_word;

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, evr: &str) -> Package {
        crate::packages::list::parse_nevra(&format!("{name}-{evr}.noarch")).unwrap()
    }

    fn summary(r: &DiffReport) -> Vec<String> {
        r.changes
            .iter()
            .map(|c| {
                let side = |s: &Option<Package>| s.as_ref().map_or("-".into(), Package::evr);
                format!(
                    "{} {} {} {}",
                    c.change.as_str(),
                    c.name(),
                    side(&c.archived),
                    side(&c.current)
                )
            })
            .collect()
    }

    #[test]
    fn each_name_arch_is_classified() {
        let archived = [
            p("a", "1.0-1"),
            p("b", "2.0-1"),
            p("c", "1.0-1"),
            p("d", "3-1"),
        ];
        let current = [
            p("a", "1.1-1"),
            p("b", "2.0-1"),
            p("d", "2-9"),
            p("e", "1-1"),
        ];
        let r = diff_packages(&archived, &current, DiffOptions::default());
        assert_eq!(
            summary(&r),
            [
                "upgraded a 1.0-1 1.1-1",
                "missing c 1.0-1 -",
                "downgraded d 3-1 2-9",
                "added e - 1-1"
            ]
        );
        assert_eq!(r.unchanged, 1);
        assert_eq!((r.archived_total, r.current_total), (4, 4));
        assert_eq!(r.count(Change::Missing), 1);
    }

    #[test]
    fn arch_is_part_of_the_key() {
        let mut i686 = p("glibc", "2.17-1");
        i686.arch = Some("i686".into());
        let r = diff_packages(
            &[p("glibc", "2.17-1"), i686],
            &[p("glibc", "2.17-1")],
            DiffOptions::default(),
        );
        assert_eq!(summary(&r), ["missing glibc 2.17-1 -"]);
        assert_eq!(r.changes[0].arch(), Some("i686"));
    }

    #[test]
    fn epoch_outranks_version_unless_ignored() {
        let archived = [p("a", "1:1.0-1")];
        let current = [p("a", "2.0-1")];
        let r = diff_packages(&archived, &current, DiffOptions::default());
        assert_eq!(summary(&r), ["downgraded a 1:1.0-1 2.0-1"]);
        let r = diff_packages(
            &archived,
            &[p("a", "1.0-1")],
            DiffOptions { ignore_epoch: true },
        );
        assert!(!r.has_drift());
        assert_eq!(r.unchanged, 1);
    }

    #[test]
    fn install_only_packages_match_version_by_version() {
        let archived = [
            p("kernel", "3.10.0-1127.el7"),
            p("kernel", "3.10.0-1160.el7"),
        ];
        let current = [
            p("kernel", "3.10.0-1160.el7"),
            p("kernel", "3.10.0-1200.el7"),
        ];
        let r = diff_packages(&archived, &current, DiffOptions::default());
        assert_eq!(
            summary(&r),
            [
                "missing kernel 3.10.0-1127.el7 -",
                "added kernel - 3.10.0-1200.el7"
            ]
        );
        assert_eq!(r.unchanged, 1);
    }

    #[test]
    fn json_records_carry_evr_strings_and_nulls() {
        let r = diff_packages(&[p("a", "2:1.0-1")], &[], DiffOptions::default());
        let v = serde_json::to_value(r.changes[0].record()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name": "a", "arch": "noarch", "archived": "2:1.0-1",
                               "current": null, "change": "missing"})
        );
    }

    #[test]
    fn yum_commands_reinstall_and_optionally_downgrade() {
        let archived = [
            p("a", "1.0-1"),
            p("b", "2:2.0-1"),
            p("c", "1-1"),
            p("d", "5-1"),
        ];
        let current = [p("a", "1.1-1"), p("d", "4-1"), p("e", "1-1")];
        let r = diff_packages(&archived, &current, DiffOptions::default());
        assert_eq!(
            yum_commands(&r, false),
            [
                "yum install -y b-2.0-1.noarch c-1-1.noarch",
                "# 1 upgraded package(s) left at their new version; add --restore-versions to downgrade them",
                "# 1 downgraded package(s) older than archived, left as they are: d-4-1.noarch",
                "# 1 added package(s) not in the archive, left installed: e-1-1.noarch",
            ]
        );
        let lines = yum_commands(&r, true);
        assert_eq!(lines[1], "yum downgrade -y a-1.0-1.noarch");
        let none = diff_packages(&archived, &archived, DiffOptions::default());
        assert_eq!(yum_commands(&none, true), ["# no drift: nothing to run"]);
    }

    #[test]
    fn signing_keys_are_not_yum_installed() {
        let key = crate::packages::list::parse_nevra("gpg-pubkey-fd431d51-4ae0493b").unwrap();
        let r = diff_packages(&[key], &[], DiffOptions::default());
        assert_eq!(
            yum_commands(&r, false),
            [
                "# missing signing key gpg-pubkey-fd431d51-4ae0493b: import it again with rpm --import"
            ]
        );
    }

    #[test]
    fn odd_names_are_shell_quoted() {
        assert_eq!(
            shell_word("libstdc++-4.8.5-44.el7.x86_64"),
            "libstdc++-4.8.5-44.el7.x86_64"
        );
        assert_eq!(shell_word("a;b"), "'a;b'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word("~x"), "'~x'");
        assert_eq!(shell_word("1.0^git"), "'1.0^git'");
    }
}
