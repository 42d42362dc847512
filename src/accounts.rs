//! User and group names from the host's /etc/passwd and /etc/group.
//!
//! Names are looked up in the local files only (no NSS): OpenShift's files are owned
//! by local system accounts (root, etcd, openvswitch), which always live there.

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
    /// Reads `<etc>/passwd` and `<etc>/group`; missing files give empty maps.
    pub fn load(etc: &Path) -> Self {
        let mut a = Self::default();
        for (id, name) in parse(&etc.join("passwd")) {
            a.user_ids.entry(name.clone()).or_insert(id);
            a.users.entry(id).or_insert(name);
        }
        for (id, name) in parse(&etc.join("group")) {
            a.group_ids.entry(name.clone()).or_insert(id);
            a.groups.entry(id).or_insert(name);
        }
        a
    }

    /// The host's own accounts.
    pub fn host() -> Self {
        Self::load(Path::new("/etc"))
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

fn parse(path: &Path) -> Vec<(u32, String)> {
    let Ok(text) = std::fs::read_to_string(path) else {
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
}
