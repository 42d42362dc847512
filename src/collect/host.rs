//! Facts about the host being captured: hostname and OS release.

use std::path::Path;

/// The hostname of the captured tree: `<root>/etc/hostname` when collecting from a
/// `--root` other than `/`, else the kernel's node name.
pub fn hostname(root: &Path) -> String {
    if root != Path::new("/") {
        if let Ok(text) = std::fs::read_to_string(root.join("etc/hostname")) {
            let name = text.trim();
            if !name.is_empty() && is_safe_name(name) {
                return name.to_string();
            }
        }
    }
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy().into_owned();
    if name.is_empty() || !is_safe_name(&name) {
        "localhost".into()
    } else {
        name
    }
}

/// Hostnames end up in file names; allow only what DNS allows.
fn is_safe_name(name: &str) -> bool {
    name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
        && !name.starts_with('.')
}

/// PRETTY_NAME from `<root>/etc/os-release`, else the first line of
/// `<root>/etc/redhat-release`.
pub fn os_release(root: &Path) -> Option<String> {
    if let Ok(text) = std::fs::read_to_string(root.join("etc/os-release")) {
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("PRETTY_NAME=") {
                return Some(v.trim_matches('"').to_string());
            }
        }
    }
    std::fs::read_to_string(root.join("etc/redhat-release"))
        .ok()
        .and_then(|t| t.lines().next().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_and_release_come_from_the_root_tree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/hostname"), "master-0.example.com\n").unwrap();
        std::fs::write(
            dir.path().join("etc/redhat-release"),
            "Red Hat Enterprise Linux Server release 7.9 (Maipo)\n",
        )
        .unwrap();
        assert_eq!(hostname(dir.path()), "master-0.example.com");
        assert_eq!(
            os_release(dir.path()).as_deref(),
            Some("Red Hat Enterprise Linux Server release 7.9 (Maipo)")
        );
        std::fs::write(dir.path().join("etc/hostname"), "../evil\n").unwrap();
        assert_ne!(hostname(dir.path()), "../evil");
    }
}
