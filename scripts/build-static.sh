#!/usr/bin/env bash
# Builds a fully static ocpvault for RHEL 7 and any other x86_64 Linux: RHEL 7 has
# glibc 2.17, so a binary linked against a current distribution's glibc does not
# start there. The musl target links everything (musl libc included) into one file.
#
# Needs:
#   rustup target add x86_64-unknown-linux-musl   (the Rust standard library for musl)
#   musl-tools (Debian/Ubuntu; musl-gcc)           C code in ring and zstd-sys, and
#                                                  aws-lc-sys (rustls' default provider,
#                                                  pulled in by object_store), is
#                                                  compiled for musl with musl-gcc
#   protobuf-compiler                              etcd-client's build script, as for
#                                                  any build
#
# Usage: scripts/build-static.sh [--if-available]
#   --if-available  exit 0 with a message, instead of failing, when the musl target
#                   or musl-gcc is not installed (what .ci/run uses)
#
# Output: target/x86_64-unknown-linux-musl/release/ocpvault (under CARGO_TARGET_DIR
# when set), checked to have no ELF interpreter (PT_INTERP) and to run --version.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-linux-musl
optional=false
[ "${1:-}" = "--if-available" ] && optional=true

missing() {
  if $optional; then
    echo "build-static: skipped: $1" >&2
    exit 0
  fi
  echo "build-static: $1" >&2
  exit 2
}

if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  $optional && missing "the $TARGET target is not installed (rustup target add $TARGET)"
  echo "build-static: installing the $TARGET target" >&2
  rustup target add "$TARGET" || missing "rustup target add $TARGET failed (offline?)"
fi
command -v musl-gcc >/dev/null || missing "musl-gcc not found (install Debian package musl-tools)"

# The cc crate picks musl-gcc for this target by itself; say so explicitly so a
# cross toolchain on PATH (x86_64-linux-musl-gcc) cannot be picked up half-way.
export CC_x86_64_unknown_linux_musl=musl-gcc
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C target-feature=+crt-static"
cargo build --release --locked --target "$TARGET"

bin="${CARGO_TARGET_DIR:-target}/$TARGET/release/ocpvault"
if command -v readelf >/dev/null && readelf -lW "$bin" | grep -q 'INTERP'; then
  echo "build-static: $bin has an ELF interpreter: not statically linked" >&2
  exit 1
fi
"$bin" --version
echo "build-static: $bin is statically linked ($(du -h "$bin" | cut -f1))"
