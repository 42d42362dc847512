//! ocpvault: offline backup and restore for OpenShift 3.x hosts.
//!
//! Layers, each importing only the ones below it:
//! `cli` -> `collect` / `restore` / `verify` / `diff` / `packages` -> `archive`
//! (`collect::packages` uses `packages` to run rpm). `accounts`, `oc` (running the
//! OpenShift client) and `etcd` (etcd.conf, the snapshot trailer, the etcd report
//! schema) are shared helpers below `collect` and `restore`.

pub mod accounts;
pub mod archive;
pub mod cli;
pub mod collect;
pub mod config;
pub mod crypto;
pub mod diff;
pub mod etcd;
pub mod oc;
pub mod packages;
pub mod progress;
pub mod restore;
pub mod shell;
pub mod ship;
pub mod verify;
