#!/usr/bin/env bash
# Builds a fully static ocpvault for RHEL 7 and any other x86_64 Linux: RHEL 7 has
# glibc 2.17, so a binary linked against a current distribution's glibc does not
# start there. The musl target links everything (musl libc included) into one file.
#
# Needs (.ci/install-deps installs them):
#   rustup target add x86_64-unknown-linux-musl   (the Rust standard library for musl)
#   musl-tools (Debian/Ubuntu; musl-gcc)           C code in ring and zstd-sys, and
#                                                  aws-lc-sys (rustls' default provider,
#                                                  pulled in by object_store), is
#                                                  compiled for musl with musl-gcc
#   binutils (objcopy, strip, readelf)             the stripped binary and its debug file
#   protobuf-compiler                              etcd-client's build script, as for
#                                                  any build
#
# Usage: scripts/build-static.sh [--if-available]
#   --if-available  exit 0 with a message, instead of failing, when the musl target
#                   or musl-gcc is not installed (for developer machines). Under
#                   CI=true a skipped build is an error all the same: CI ships this
#                   binary.
#
# Output, under ${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-musl/release/:
#   ocpvault        stripped (about 17 MiB instead of about 100 MiB), with a
#                   .gnu_debuglink naming ocpvault.debug; what RHEL 7 hosts get
#   ocpvault.debug  its debug info, for gdb or a symbolised backtrace; not installed
# The binary is checked to have no ELF interpreter (PT_INTERP) and to run --version.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-linux-musl
optional=false
[ "${1:-}" = "--if-available" ] && optional=true
in_ci=false
case "${CI:-}" in true | 1) in_ci=true ;; esac

missing() {
  if $optional && ! $in_ci; then
    echo "build-static: skipped: $1" >&2
    exit 0
  fi
  if $in_ci; then
    echo "build-static: $1 (CI=true: the static build must not be skipped; .ci/install-deps installs what it needs)" >&2
  else
    echo "build-static: $1" >&2
  fi
  exit 2
}

command -v rustup >/dev/null || missing "rustup not found: cannot add the $TARGET target"
if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  $optional && ! $in_ci && missing "the $TARGET target is not installed (rustup target add $TARGET)"
  echo "build-static: installing the $TARGET target" >&2
  rustup target add "$TARGET" || missing "rustup target add $TARGET failed (offline?)"
fi
command -v musl-gcc >/dev/null || missing "musl-gcc not found (install Debian package musl-tools)"
for tool in objcopy strip readelf; do
  command -v "$tool" >/dev/null || missing "$tool not found (install Debian package binutils)"
done

# The cc crate picks musl-gcc for this target by itself; say so explicitly so a
# cross toolchain on PATH (x86_64-linux-musl-gcc) cannot be picked up half-way.
export CC_x86_64_unknown_linux_musl=musl-gcc
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C target-feature=+crt-static"
cargo build --release --locked --target "$TARGET"

dir="${CARGO_TARGET_DIR:-target}/$TARGET/release"
bin="$dir/ocpvault"
if readelf -lW "$bin" | grep -q 'INTERP'; then
  echo "build-static: $bin has an ELF interpreter: not statically linked" >&2
  exit 1
fi
# Keep the debug info beside the binary, strip the binary, and link the two by name
# (gdb finds ocpvault.debug next to the binary or under /usr/lib/debug).
# Cargo normally puts a fresh, unstripped copy there on every build; a binary that is
# already stripped (no .debug_info) keeps the debug file made when it was stripped.
before=$(du -h "$bin" | cut -f1)
if readelf -SW "$bin" | grep -q '\.debug_info'; then
  objcopy --only-keep-debug "$bin" "$bin.debug"
  chmod 0644 "$bin.debug"
  strip --strip-all "$bin"
  (cd "$dir" && objcopy --add-gnu-debuglink=ocpvault.debug ocpvault)
fi
"$bin" --version
echo "build-static: $bin is statically linked and stripped ($(du -h "$bin" | cut -f1); $before with debug info, kept in $bin.debug)"
