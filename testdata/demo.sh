#!/usr/bin/env bash
# The README's main job: build ocpvault, generate the demo OpenShift 3.11 master
# tree, and take a snapshot of it with the default settings.
#
#   testdata/demo.sh [WORKDIR]        (default /tmp/ocpvault-demo)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/ocpvault-demo}
command -v protoc >/dev/null || "$here/.ci/install-deps"
(cd "$here" && cargo build --release --locked --quiet)
rm -rf "$work/root"
mkdir -p "$work/archives"
chmod 700 "$work/archives"
"$here/testdata/make-host-tree.sh" "$work/root"
set -x
# No etcd member runs for the demo tree (its etcd.conf names 192.168.55.8), so the
# etcd source is turned off; on a real etcd host leave it on (the default).
"$here/target/release/ocpvault" snapshot --root "$work/root" --output "$work/archives" --etcd skip
