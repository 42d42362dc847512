#!/usr/bin/env bash
# Benchmark for issue #15: wall time of ansible/snapshot.yml for the five-host test
# cluster (tests/it/ansible.rs builds it: a real three-member TLS etcd, moto, one
# host tree per host) against the same hosts snapshotted one after another, with the
# store size of each. Writes bench/results/cluster.md.
#
#   bench/cluster.sh
#
# Needs what .ci/install-deps installs (etcd, age, acl, the test venv with moto and
# ansible-core). Runs as root (the host trees carry owners and ACLs).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --release --locked --test it ansible::bench_cluster_snapshot -- --ignored --nocapture
