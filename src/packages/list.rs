//! Package lists: one installed package, the `packages.json` document the packages
//! source stores (formats/packages-json.md), and saved `rpm -qa` listings.
//!
//! Guarantees: a list read from an archive or a file is size-checked before it is
//! parsed, a list from a newer ocpvault is refused with both versions named, and every
//! package read has a non-empty name, version and release free of whitespace and
//! control characters.

use super::vercmp::compare_evr;
use crate::archive::{ArchiveError, ArchiveReader};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::io::{BufRead, Read};

/// Archive path of the structured list (formats/packages-json.md).
pub const PACKAGES_JSON: &str = "/.ocpvault/packages/packages.json";
/// Archive path of the `rpm -qa | LC_ALL=C sort` listing.
pub const PACKAGES_TXT: &str = "/.ocpvault/packages/packages.txt";
/// `format` field of packages.json.
pub const LIST_FORMAT: &str = "ocpvault-packages";
/// The packages.json version this build writes and the newest it reads.
pub const LIST_VERSION: u32 = 1;
/// Largest packages.json or listing read (a RHEL host has a few thousand packages).
pub const MAX_LIST_BYTES: u64 = 64 * 1024 * 1024; // 64 MiB
/// Longest line accepted in an `rpm -qa` listing or rpm output.
pub const MAX_LINE_BYTES: u64 = 4096;

/// Architectures recognised as the `.arch` suffix of a listing line. A line whose last
/// dot-suffix is not one of these has no arch (gpg-pubkey lines, `%{nvr}` listings).
const KNOWN_ARCHES: &[&str] = &[
    "noarch",
    "x86_64",
    "x86_64_v2",
    "x86_64_v3",
    "x86_64_v4",
    "i386",
    "i486",
    "i586",
    "i686",
    "athlon",
    "geode",
    "pentium3",
    "pentium4",
    "amd64",
    "ia32e",
    "ia64",
    "aarch64",
    "armv5tel",
    "armv6l",
    "armv6hl",
    "armv7l",
    "armv7hl",
    "armv7hnl",
    "armv8l",
    "ppc",
    "ppc64",
    "ppc64le",
    "ppc64p7",
    "ppc64pseries",
    "ppc64iseries",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "sparcv9",
    "alpha",
    "mips",
    "mipsel",
    "mips64",
    "mips64el",
    "riscv64",
    "loongarch64",
    "src",
    "nosrc",
];

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    /// None when the package has no Epoch tag (rpm then compares it as 0).
    pub epoch: Option<u64>,
    pub version: String,
    pub release: String,
    /// None for packages without an arch, such as gpg-pubkey.
    pub arch: Option<String>,
}

impl Package {
    /// `[epoch:]version-release`.
    pub fn evr(&self) -> String {
        match self.epoch {
            Some(e) => format!("{e}:{}-{}", self.version, self.release),
            None => format!("{}-{}", self.version, self.release),
        }
    }

    /// `name-version-release[.arch]`, as `rpm -qa` prints it and yum accepts it.
    pub fn nvra(&self) -> String {
        let nvr = format!("{}-{}-{}", self.name, self.version, self.release);
        match &self.arch {
            Some(a) => format!("{nvr}.{a}"),
            None => nvr,
        }
    }

    /// `name-[epoch:]version-release[.arch]`.
    pub fn nevra(&self) -> String {
        let nevr = format!("{}-{}", self.name, self.evr());
        match &self.arch {
            Some(a) => format!("{nevr}.{a}"),
            None => nevr,
        }
    }

    /// rpm's ordering of the two packages' epoch, version and release.
    pub fn cmp_evr(&self, other: &Package) -> Ordering {
        compare_evr(
            (self.epoch, &self.version, &self.release),
            (other.epoch, &other.version, &other.release),
        )
    }

    /// Refuses empty fields and fields with whitespace or control characters, which
    /// no rpm package has and which would garble listings and pasted commands.
    fn check(&self) -> Result<(), String> {
        let fields = [
            ("name", Some(&self.name)),
            ("version", Some(&self.version)),
            ("release", Some(&self.release)),
            ("arch", self.arch.as_ref()),
        ];
        for (what, value) in fields {
            let Some(v) = value else { continue };
            if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!("package {}: bad {what} {v:?}", self.name));
            }
        }
        Ok(())
    }
}

/// Sorts by name, then arch, then rpm's version order: the order of packages.json.
pub fn sort_packages(packages: &mut [Package]) {
    packages.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| a.arch.cmp(&b.arch))
            .then_with(|| a.cmp_evr(b))
            .then_with(|| a.evr().cmp(&b.evr()))
    });
}

/// The packages.json document.
#[derive(Debug, Serialize, Deserialize)]
struct ListDocument<P> {
    format: String,
    version: u32,
    packages: P,
}

/// Problems reading a package list.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("{path}: the archive has no package list ({why})")]
    NoList { path: String, why: String },
    #[error("{what}: {size} bytes is over the {limit} byte limit for a package list")]
    TooLarge { what: String, size: u64, limit: u64 },
    #[error(
        "{what}: package list version {found} is newer than this ocpvault supports ({supported})"
    )]
    NewerVersion {
        what: String,
        found: u32,
        supported: u32,
    },
    #[error("{what}: not a package list: {why}")]
    Invalid { what: String, why: String },
    #[error("{what}: line {line}: {why}")]
    BadLine {
        what: String,
        line: usize,
        why: String,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

/// Serialises a sorted list as packages.json (pretty, one field per line, newline at
/// the end).
pub fn to_json(packages: &[Package]) -> Vec<u8> {
    let doc = ListDocument {
        format: LIST_FORMAT.to_string(),
        version: LIST_VERSION,
        packages,
    };
    let mut out = serde_json::to_vec_pretty(&doc).expect("a package list always serialises");
    out.push(b'\n');
    out
}

/// Parses packages.json from `reader`; `what` names it in errors.
pub fn read_json(reader: impl Read, what: &str) -> Result<Vec<Package>, ListError> {
    let invalid = |why: String| ListError::Invalid {
        what: what.to_string(),
        why,
    };
    let limited = std::io::BufReader::new(reader.take(MAX_LIST_BYTES + 1));
    let doc: ListDocument<serde_json::Value> =
        serde_json::from_reader(limited).map_err(|e| invalid(e.to_string()))?;
    if doc.format != LIST_FORMAT {
        return Err(invalid(format!("format is {:?}", doc.format)));
    }
    if doc.version > LIST_VERSION {
        return Err(ListError::NewerVersion {
            what: what.to_string(),
            found: doc.version,
            supported: LIST_VERSION,
        });
    }
    let packages: Vec<Package> =
        serde_json::from_value(doc.packages).map_err(|e| invalid(e.to_string()))?;
    for p in &packages {
        p.check().map_err(invalid)?;
    }
    Ok(packages)
}

/// Reads the package list stored in an archive.
pub fn load_from_archive(reader: &mut ArchiveReader) -> Result<Vec<Package>, ListError> {
    let archive = reader.path().display().to_string();
    let Some(entry) = reader.manifest().entry(PACKAGES_JSON.as_bytes()) else {
        return Err(ListError::NoList {
            path: archive,
            why: why_no_list(reader),
        });
    };
    let what = format!("{archive}: {PACKAGES_JSON}");
    let id = entry.object.ok_or_else(|| ListError::Invalid {
        what: what.clone(),
        why: "entry is not a file".into(),
    })?;
    let object = reader.open_object(&id)?;
    if object.size() > MAX_LIST_BYTES {
        return Err(ListError::TooLarge {
            what,
            size: object.size(),
            limit: MAX_LIST_BYTES,
        });
    }
    read_json(object, &what)
}

/// Why an archive holds no list, from its packages source report.
fn why_no_list(reader: &ArchiveReader) -> String {
    let Some(source) = reader.manifest().source("packages") else {
        return "it was written without a packages source".into();
    };
    let detail = ["reason", "error"]
        .iter()
        .find_map(|k| source.details.get(*k).and_then(|v| v.as_str()));
    match detail {
        Some(d) => format!("packages source {}: {d}", source.status.as_str()),
        None => format!("packages source {}", source.status.as_str()),
    }
}

/// A saved `rpm -qa` listing, parsed.
#[derive(Debug)]
pub struct TextListing {
    pub packages: Vec<Package>,
    /// True when at least one line carried an epoch (`name-E:V-R.A`); otherwise the
    /// listing says nothing about epochs and comparisons must ignore them.
    pub has_epochs: bool,
}

/// Reads a listing of `name-version-release.arch` lines (`rpm -qa`, the guide's
/// packages.txt) or `name-epoch:version-release.arch` lines (`%{nevra}`). Blank lines
/// are skipped.
pub fn read_text_listing(reader: impl Read, what: &str) -> Result<TextListing, ListError> {
    let mut input = std::io::BufReader::new(reader.take(MAX_LIST_BYTES + 1));
    let mut listing = TextListing {
        packages: Vec::new(),
        has_epochs: false,
    };
    let mut line = Vec::new();
    let mut number = 0;
    let mut total = 0u64;
    loop {
        line.clear();
        let n = (&mut input)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut line)
            .map_err(|source| ListError::Io {
                what: what.to_string(),
                source,
            })?;
        if n == 0 {
            return Ok(listing);
        }
        number += 1;
        total += n as u64;
        let bad = |why: &str| ListError::BadLine {
            what: what.to_string(),
            line: number,
            why: why.to_string(),
        };
        if total > MAX_LIST_BYTES {
            return Err(bad("the listing is over the 64 MiB limit"));
        }
        if n as u64 > MAX_LINE_BYTES {
            return Err(bad("line too long"));
        }
        let text = std::str::from_utf8(&line).map_err(|_| bad("not UTF-8"))?;
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let package = parse_nevra(text).map_err(|why| bad(&why))?;
        listing.has_epochs |= package.epoch.is_some();
        listing.packages.push(package);
    }
}

/// Parses `name-[epoch:]version-release[.arch]`.
pub fn parse_nevra(text: &str) -> Result<Package, String> {
    let (rest, arch) = match text.rsplit_once('.') {
        Some((rest, arch)) if KNOWN_ARCHES.contains(&arch) => (rest, Some(arch.to_string())),
        _ => (text, None),
    };
    let malformed = || format!("{text:?} is not name-version-release.arch");
    let (rest, release) = rest.rsplit_once('-').ok_or_else(malformed)?;
    let (name, version) = rest.rsplit_once('-').ok_or_else(malformed)?;
    let (epoch, version) = match version.split_once(':') {
        Some((e, v)) => {
            let epoch = e
                .parse::<u64>()
                .map_err(|_| format!("{text:?}: bad epoch {e:?}"))?;
            (Some(epoch), v)
        }
        None => (None, version),
    };
    let package = Package {
        name: name.to_string(),
        epoch,
        version: version.to_string(),
        release: release.to_string(),
        arch,
    };
    package.check()?;
    Ok(package)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, epoch: Option<u64>, v: &str, r: &str, arch: Option<&str>) -> Package {
        Package {
            name: name.into(),
            epoch,
            version: v.into(),
            release: r.into(),
            arch: arch.map(str::to_string),
        }
    }

    #[test]
    fn listing_lines_parse_with_and_without_arch_and_epoch() {
        let p = parse_nevra("kernel-3.10.0-1160.el7.x86_64").unwrap();
        assert_eq!(p, pkg("kernel", None, "3.10.0", "1160.el7", Some("x86_64")));
        let p = parse_nevra("perl-Text-ParseWords-3.29-4.el7.noarch").unwrap();
        assert_eq!(p.name, "perl-Text-ParseWords");
        let p = parse_nevra("gpg-pubkey-fd431d51-4ae0493b").unwrap();
        assert_eq!(p, pkg("gpg-pubkey", None, "fd431d51", "4ae0493b", None));
        let p = parse_nevra("bind-libs-32:9.11.4-26.P2.el7.x86_64").unwrap();
        assert_eq!(p.epoch, Some(32));
        assert_eq!(p.evr(), "32:9.11.4-26.P2.el7");
        assert_eq!(p.nvra(), "bind-libs-9.11.4-26.P2.el7.x86_64");
        assert_eq!(p.nevra(), "bind-libs-32:9.11.4-26.P2.el7.x86_64");
        // An unknown suffix stays part of the release.
        let p = parse_nevra("foo-1.0-1.el7").unwrap();
        assert_eq!((p.release.as_str(), p.arch), ("1.el7", None));
    }

    #[test]
    fn malformed_listing_lines_are_refused_with_their_number() {
        for bad in ["nodashes", "one-dash", "x-y:1.0-1.noarch", "-1.0-1.noarch"] {
            assert!(parse_nevra(bad).is_err(), "{bad}");
        }
        let err = read_text_listing(&b"a-1-1.noarch\n\nbroken\n"[..], "f").unwrap_err();
        assert_eq!(
            err.to_string(),
            "f: line 3: \"broken\" is not name-version-release.arch"
        );
    }

    #[test]
    fn listing_reports_whether_it_carries_epochs() {
        let l = read_text_listing(&b"a-1-1.noarch\r\nb-2-1.noarch\n"[..], "f").unwrap();
        assert_eq!(l.packages.len(), 2);
        assert!(!l.has_epochs);
        let l = read_text_listing(&b"a-1-1.noarch\nb-0:2-1.noarch\n"[..], "f").unwrap();
        assert!(l.has_epochs);
    }

    #[test]
    fn over_long_lines_are_refused() {
        let mut text = vec![b'a'; MAX_LINE_BYTES as usize + 10];
        text.push(b'\n');
        let err = read_text_listing(&text[..], "f").unwrap_err();
        assert!(err.to_string().contains("line too long"), "{err}");
    }

    #[test]
    fn json_round_trips_and_sorts_by_name_arch_and_version() {
        let mut list = vec![
            pkg("b", None, "1.10", "1", Some("noarch")),
            pkg("b", None, "1.9", "1", Some("noarch")),
            pkg("a", Some(1), "2", "1", Some("x86_64")),
            pkg("a", None, "2", "1", Some("i686")),
        ];
        sort_packages(&mut list);
        let order: Vec<String> = list.iter().map(Package::nevra).collect();
        assert_eq!(
            order,
            [
                "a-2-1.i686",
                "a-1:2-1.x86_64",
                "b-1.9-1.noarch",
                "b-1.10-1.noarch"
            ]
        );
        let json = to_json(&list);
        assert_eq!(read_json(&json[..], "t").unwrap(), list);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["format"], "ocpvault-packages");
        assert_eq!(v["packages"][0]["epoch"], serde_json::Value::Null);
    }

    #[test]
    fn newer_and_foreign_json_is_refused() {
        let newer = br#"{"format":"ocpvault-packages","version":2,"packages":[]}"#;
        let err = read_json(&newer[..], "t").unwrap_err();
        assert_eq!(
            err.to_string(),
            "t: package list version 2 is newer than this ocpvault supports (1)"
        );
        let foreign = br#"{"format":"other","version":1,"packages":[]}"#;
        assert!(read_json(&foreign[..], "t").is_err());
        assert!(read_json(&b"{\"format\":"[..], "t").is_err());
    }

    #[test]
    fn hostile_package_fields_are_refused() {
        let evil = br#"{"format":"ocpvault-packages","version":1,"packages":[
            {"name":"a; rm -rf /","epoch":null,"version":"1","release":"1","arch":null}]}"#;
        let err = read_json(&evil[..], "t").unwrap_err();
        assert!(err.to_string().contains("bad name"), "{err}");
        let empty = br#"{"format":"ocpvault-packages","version":1,"packages":[
            {"name":"a","epoch":null,"version":"","release":"1","arch":null}]}"#;
        assert!(read_json(&empty[..], "t").is_err());
    }
}
