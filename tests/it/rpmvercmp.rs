//! rpmvercmp against rpm's own ordering: every pair of a set of versions chosen to hit
//! each rule, compared by `rpm.vercmp` in rpm's embedded Lua (Debian package `rpm`).

use crate::common::have_tool;
use std::process::Command;

/// rpmvercmp against rpm's own comparison (`rpm.vercmp` in rpm's Lua), over every pair
/// of a set of versions chosen to hit each rule.
#[test]
fn rpmvercmp_agrees_with_rpm() {
    if !have_tool("rpm", "rpm") {
        return;
    }
    let versions = [
        "1",
        "1.0",
        "1.00",
        "1.0.0",
        "01",
        "1.01",
        "1.10",
        "1.9",
        "1a",
        "1.a",
        "1.0a",
        "a",
        "A",
        "b",
        "1.0~rc1",
        "1.0~rc2",
        "1.0~",
        "1.0~~",
        "~",
        "1.0^",
        "1.0^git1",
        "1.0^git2",
        "1.0~rc1^git1",
        "1.0.1",
        "1_0",
        "1+0",
        "2.0.1a",
        "5.5p10",
        "5.5p2",
        "10xyz",
        "10.1xyz",
        "xyz.4",
        "20101121",
        "999999999999999999999",
        "1000000000000000000000",
        "1..0",
        "1.0.",
        "p1",
        "1.0.rc1",
        "1.0rc1",
    ];
    let mut pairs = Vec::new();
    for a in versions {
        for b in versions {
            pairs.push((a, b));
        }
    }
    let script: String = pairs
        .iter()
        .map(|(a, b)| format!("print(rpm.vercmp('{a}', '{b}') .. ' ')\n"))
        .collect();
    let out = Command::new("rpm")
        .env("LC_ALL", "C")
        .arg("--eval")
        .arg(format!("%{{lua:\n{script}}}"))
        .output()
        .expect("run rpm");
    assert!(
        out.status.success(),
        "rpm --eval: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<i32> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|s| s.parse().expect("a number"))
        .collect();
    assert_eq!(answers.len(), pairs.len());
    for ((a, b), want) in pairs.iter().zip(answers) {
        let got = ocpvault::packages::rpmvercmp(a, b) as i32;
        assert_eq!(got, want.signum(), "rpmvercmp({a:?}, {b:?})");
    }
}
