#!/usr/bin/env bash
# Packages the static RHEL 7 binary as ocpvault-<version>-1.el7.x86_64.rpm with
# rpmbuild (packaging/ocpvault.spec): /usr/bin/ocpvault, the man pages of man/, bash
# completion (`ocpvault completions bash`) and /etc/ocpvault/config.toml
# (%config(noreplace), commented defaults only: packaging/config.toml).
#
# Usage: scripts/build-rpm.sh [--if-available]
#   Run after scripts/build-static.sh. OCPVAULT_BINARY overrides the binary packaged
#   (default: the static build). --if-available exits 0 with a message when the
#   binary or rpmbuild is missing; under CI=true that is an error all the same.
#
# Output: ${CARGO_TARGET_DIR:-target}/rpm/ocpvault-<version>-1.el7.x86_64.rpm, which
# tests/it/rpm_package.rs checks and installs into a scratch rpm root.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}
bin=${OCPVAULT_BINARY:-$target_dir/x86_64-unknown-linux-musl/release/ocpvault}
optional=false
[ "${1:-}" = "--if-available" ] && optional=true
in_ci=false
case "${CI:-}" in true | 1) in_ci=true ;; esac

missing() {
  if $optional && ! $in_ci; then
    echo "build-rpm: skipped: $1" >&2
    exit 0
  fi
  echo "build-rpm: $1" >&2
  exit 2
}
[ -x "$bin" ] || missing "$bin not found (run scripts/build-static.sh first)"
command -v rpmbuild >/dev/null || missing "rpmbuild not found (install Debian package rpm)"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
reported=$("$bin" --version)
[ "$reported" = "ocpvault $version" ] ||
  { echo "build-rpm: $bin says '$reported', Cargo.toml says $version" >&2; exit 1; }

out="$target_dir/rpm"
top=$(mktemp -d); trap 'rm -rf "$top"' EXIT
mkdir -p "$top/SOURCES" "$out"
cp "$bin" "$top/SOURCES/ocpvault"
"$bin" completions bash > "$top/SOURCES/ocpvault.bash"
cp packaging/config.toml "$top/SOURCES/config.toml"
# man/ holds section 1 and 5 pages; the tarball puts them in man1/ and man5/.
mkdir -p "$top/man/man1" "$top/man/man5"
cp man/*.1 "$top/man/man1/"; cp man/*.5 "$top/man/man5/"
tar -cf "$top/SOURCES/man.tar" -C "$top/man" man1 man5
rpmbuild -bb --quiet \
  --define "_topdir $top" \
  --define "version $version" \
  --target x86_64 \
  packaging/ocpvault.spec
rpm="ocpvault-$version-1.el7.x86_64.rpm"
cp "$top/RPMS/x86_64/$rpm" "$out/$rpm"
chmod 0644 "$out/$rpm"
echo "build-rpm: $out/$rpm"
rpm -qlp "$out/$rpm"
