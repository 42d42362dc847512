//! `etcd get` on an archive whose etcd snapshot is larger than one 4 MiB frame reads
//! the key through the key index and a seek in the framed snapshot object (spec
//! §4.1), not by decompressing the db: a real etcd with TLS, a real snapshot.

use crate::common::ocpvault;
use crate::etcd_support::{EtcdServer, Pki, ServerConfig, have_etcd, host_root};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn snapshot(root: &Path, out: &Path) -> PathBuf {
    let o = ocpvault(&["snapshot", "--root", s(root), "--output", s(out), "--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    PathBuf::from(v["archive"].as_str().unwrap())
}

/// Stored bytes of the snapshot read, from the note OCPVAULT_DEBUG_IO prints.
fn bytes_read(stderr: &str) -> Option<u64> {
    let rest = stderr.split("etcd get: read ").nth(1)?;
    rest.split(' ').next()?.parse().ok()
}

#[test]
fn get_reads_one_key_of_a_framed_snapshot_through_the_index() {
    if !have_etcd() {
        eprintln!("skipped: etcd is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"));
    let cfg = ServerConfig::new(dir.path(), "master-0", Some(&pki));
    let mut server = EtcdServer::start(&cfg);
    // About 34 MiB of values that compress poorly (so the compressed db spans many
    // frames), put in transactions of many puts (sub revisions > 0).
    let mut keys = BTreeMap::new();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..48_000 {
        let filler: String = (0..700)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (b'a' + (x % 26) as u8) as char
            })
            .collect();
        keys.insert(
            format!("/kubernetes.io/configmaps/p{}/cm-{i:05}", i % 5),
            format!("{i}-{filler}"),
        );
    }
    server.put_all(&keys);
    let gone = "/kubernetes.io/configmaps/p0/cm-00000";
    let out = server.etcdctl(&["del", gone]);
    assert!(out.status.success());
    let root = host_root(dir.path(), &cfg.etcd_conf(), Some(&pki));
    let archive = snapshot(&root, &dir.path().join("out"));
    server.stop();

    let stored = {
        let o = ocpvault(&["ls", s(&archive), "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v.as_array()
            .or_else(|| v["entries"].as_array())
            .unwrap()
            .iter()
            .find(|e| e["path"] == "/.ocpvault/etcd/snapshot.db")
            .and_then(|e| e["size"].as_u64())
            .expect("the snapshot is listed")
    };
    assert!(
        stored > 24 << 20,
        "the db spans several frames ({stored} bytes)"
    );

    for (i, key) in [
        (7usize, "p2/cm-00007"),
        (12_345, "p0/cm-12345"),
        (47_999, "p4/cm-47999"),
    ] {
        let (ns, name) = key.split_once('/').unwrap();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_ocpvault"))
            .args([
                "etcd",
                "get",
                s(&archive),
                &format!("configmaps/{name}"),
                "-n",
                ns,
                "-o",
                "raw",
            ])
            .env("OCPVAULT_DEBUG_IO", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{err}");
        let full = format!("/kubernetes.io/configmaps/{key}");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            keys[&full],
            "value of {full} ({i})"
        );
        let read = bytes_read(&err).unwrap_or_else(|| panic!("no index read note: {err}"));
        // A few pages, each in one 4 MiB frame: far less than the compressed db.
        let archive_size = std::fs::metadata(&archive).unwrap().len();
        assert!(
            read > 0 && read * 2 < archive_size,
            "read {read} stored bytes of a {archive_size}-byte archive"
        );
    }

    // A deleted key is not in the index: the scan says when it was deleted.
    let o = ocpvault(&["etcd", "get", s(&archive), gone, "-o", "raw"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("was deleted at revision"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
