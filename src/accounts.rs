//! User and group names from /etc/passwd and /etc/group.
//!
//! Names are looked up in the local files only (no NSS): OpenShift's files are owned
//! by local system accounts (root, etcd, openvswitch), which always live there.
//! A snapshot of `--root R` names owners from R's own files ([`Accounts::of_root`]):
//! a tree from another host (a mounted disk, a chroot) has its own ids. A restore maps
//! names to this host's ids ([`Accounts::host`]).

use std::collections::HashMap;
use std::path::Path;

/// Two-way maps between ids and names for users and groups.
#[derive(Debug, Default, Clone)]
pub struct Accounts {
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
    user_ids: HashMap<String, u32>,
    group_ids: HashMap<String, u32>,
}

impl Accounts {
    /// Reads `<etc>/passwd` and `<etc>/group`; missing files give empty maps, so no
    /// names. A symlink in place of either file is not followed: in a tree from
    /// another host it could name this host's file.
    pub fn load(etc: &Path) -> Self {
        Self::from_files(&etc.join("passwd"), &etc.join("group"))
    }

    fn from_files(passwd: &Path, group: &Path) -> Self {
        let mut a = Self::default();
        for (id, name) in parse(passwd) {
            a.user_ids.entry(name.clone()).or_insert(id);
            a.users.entry(id).or_insert(name);
        }
        for (id, name) in parse(group) {
            a.group_ids.entry(name.clone()).or_insert(id);
            a.groups.entry(id).or_insert(name);
        }
        a
    }

    /// The host's own accounts.
    pub fn host() -> Self {
        Self::load(Path::new("/etc"))
    }

    /// The accounts of the tree captured with `--root root`: this host's for `/`,
    /// else `<root>/etc/passwd` and `<root>/etc/group`. A tree without them gets no
    /// names at all rather than this host's names for its ids, which would be wrong
    /// as often as not; the numeric ids are recorded either way.
    pub fn of_root(root: &Path) -> Self {
        if is_host_root(root) {
            Self::host()
        } else {
            Self::load(&root.join("etc"))
        }
    }

    /// The accounts that give a recorded name its id in the tree under `root`, for
    /// comparing that tree with an archive (`diff --root`): the tree's own passwd and
    /// group files where it has them (a tree from another host, as `snapshot --root`
    /// read it), else this host's (a `restore --target` directory, written with this
    /// host's ids).
    pub fn of_tree_or_host(root: &Path) -> Self {
        if is_host_root(root) {
            return Self::host();
        }
        let etc = root.join("etc");
        let pick = |name: &str| {
            let own = etc.join(name);
            if std::fs::symlink_metadata(&own).is_ok() {
                own
            } else {
                Path::new("/etc").join(name)
            }
        };
        Self::from_files(&pick("passwd"), &pick("group"))
    }

    pub fn user_name(&self, uid: u32) -> Option<String> {
        self.users.get(&uid).cloned()
    }

    pub fn group_name(&self, gid: u32) -> Option<String> {
        self.groups.get(&gid).cloned()
    }

    pub fn uid(&self, name: &str) -> Option<u32> {
        self.user_ids.get(name).copied()
    }

    pub fn gid(&self, name: &str) -> Option<u32> {
        self.group_ids.get(name).copied()
    }
}

/// True when `root` is this host's `/` (also when spelled `//` or `/.`, or through a
/// symlink).
fn is_host_root(root: &Path) -> bool {
    root == Path::new("/") || std::fs::canonicalize(root).is_ok_and(|p| p == Path::new("/"))
}

fn parse(path: &Path) -> Vec<(u32, String)> {
    let Ok(text) = read_regular_file(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let mut f = line.split(':');
            let name = f.next()?;
            let id = f.nth(1)?.parse().ok()?;
            (!name.is_empty()).then(|| (id, name.to_string()))
        })
        .collect()
}

/// The text of `path`, refusing a symlink in its place.
fn read_regular_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_passwd_and_group() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("passwd"),
            "root:x:0:0:root:/root:/bin/bash\netcd:x:993:990:etcd user:/var/lib/etcd:/sbin/nologin\nbad line\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("group"), "root:x:0:\netcd:x:990:\n").unwrap();
        let a = Accounts::load(dir.path());
        assert_eq!(a.user_name(993).as_deref(), Some("etcd"));
        assert_eq!(a.uid("etcd"), Some(993));
        assert_eq!(a.gid("etcd"), Some(990));
        assert_eq!(a.group_name(0).as_deref(), Some("root"));
        assert_eq!(a.user_name(5), None);
    }

    #[test]
    fn a_root_tree_uses_its_own_files_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        std::fs::create_dir(&etc).unwrap();
        // No passwd or group in the tree: no names, not this host's (uid 0 is root here).
        let none = Accounts::of_root(dir.path());
        assert_eq!(none.user_name(0), None);
        assert_eq!(none.group_name(0), None);
        std::fs::write(etc.join("passwd"), "admin:x:0:0::/root:/bin/bash\n").unwrap();
        std::fs::write(etc.join("group"), "wheel:x:0:\n").unwrap();
        let tree = Accounts::of_root(dir.path());
        assert_eq!(tree.user_name(0).as_deref(), Some("admin"));
        assert_eq!(tree.group_name(0).as_deref(), Some("wheel"));
        // A symlink to this host's file is not followed.
        std::fs::remove_file(etc.join("passwd")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", etc.join("passwd")).unwrap();
        assert_eq!(Accounts::of_root(dir.path()).user_name(0), None);
        // For comparing a tree: its own files, else this host's.
        std::fs::remove_file(etc.join("passwd")).unwrap();
        let cmp = Accounts::of_tree_or_host(dir.path());
        assert_eq!(cmp.gid("wheel"), Some(0));
        assert_eq!(cmp.uid("admin"), None);
        assert_eq!(cmp.user_name(0), Accounts::host().user_name(0));
        // `/` is this host.
        let host = Accounts::host();
        assert_eq!(
            Accounts::of_root(Path::new("/")).user_name(0),
            host.user_name(0)
        );
    }
}
