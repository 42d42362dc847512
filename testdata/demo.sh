#!/usr/bin/env bash
# The README's main job: build ocpvault, generate the demo OpenShift 3.11 master
# tree, and take a snapshot of its host files (the etcd and projects sources are
# turned off: nothing answers for the demo tree here). Exits with the snapshot's
# status: 0, and a warning that the unencrypted archive holds secret files. The
# README's "Projects" section shows that source with the stand-in oc.
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
# No etcd member or API server runs for the demo tree (its etcd.conf names
# 192.168.55.8), so the etcd and projects sources are turned off; on a real master
# leave them on (the default). The README's "Projects" section runs the
# projects source against testdata/stand-in-oc/oc.
"$here/target/release/ocpvault" snapshot --root "$work/root" --output "$work/archives" \
  --etcd skip --projects skip
