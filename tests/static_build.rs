//! The RHEL 7 build (scripts/build-static.sh): when the x86_64-unknown-linux-musl
//! target is installed, the binary the script built must have no ELF interpreter
//! (PT_INTERP), so it needs no glibc at all, and must run `--version`. .ci/run runs
//! the script before the tests when the target is installed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "x86_64-unknown-linux-musl";
const PT_INTERP: u32 = 3;

/// The program header types of an ELF64 little-endian file.
fn program_header_types(path: &Path) -> Vec<u32> {
    let elf = std::fs::read(path).expect("read binary");
    assert_eq!(&elf[..4], b"\x7fELF", "{} is not ELF", path.display());
    assert_eq!((elf[4], elf[5]), (2, 1), "not ELF64 little-endian");
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum)
        .map(|i| {
            let o = phoff + i * phentsize;
            u32::from_le_bytes(elf[o..o + 4].try_into().unwrap())
        })
        .collect()
}

/// target/<triple>/release/ocpvault, next to the target directory of this build.
fn static_binary() -> PathBuf {
    let host_bin = Path::new(env!("CARGO_BIN_EXE_ocpvault"));
    let target_dir = host_bin
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/ocpvault");
    target_dir.join(TARGET).join("release").join("ocpvault")
}

fn target_installed() -> Option<bool> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .ok()?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.trim() == TARGET),
    )
}

#[test]
fn the_host_binary_is_seen_as_dynamic() {
    // The check below must be able to fail: the glibc build under test has an
    // interpreter (ld-linux), unless it was itself built static.
    let types = program_header_types(Path::new(env!("CARGO_BIN_EXE_ocpvault")));
    assert!(!types.is_empty());
    let static_host = std::env::var("RUSTFLAGS").is_ok_and(|f| f.contains("crt-static"));
    assert_eq!(types.contains(&PT_INTERP), !static_host);
}

#[test]
fn the_musl_build_is_static_and_runs() {
    match target_installed() {
        None => {
            return eprintln!("SKIP: rustup not found; cannot tell whether {TARGET} is installed");
        }
        Some(false) => {
            return eprintln!(
                "SKIP: the {TARGET} target is not installed (rustup target add {TARGET}; \
                 then scripts/build-static.sh)"
            );
        }
        Some(true) => {}
    }
    let bin = static_binary();
    if !bin.exists() {
        assert!(
            !common::in_ci(),
            "{} missing: .ci/run must run scripts/build-static.sh",
            bin.display()
        );
        return eprintln!(
            "SKIP: {} not built (run scripts/build-static.sh)",
            bin.display()
        );
    }
    let types = program_header_types(&bin);
    assert!(
        !types.contains(&PT_INTERP),
        "{} has an ELF interpreter: not statically linked",
        bin.display()
    );
    let out = Command::new(&bin)
        .arg("--version")
        .output()
        .expect("run static binary");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ocpvault {}", env!("CARGO_PKG_VERSION"))
    );
}
