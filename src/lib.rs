//! ocpvault: offline backup and restore for OpenShift 3.x hosts.
//!
//! Layers, each importing only the ones below it:
//! `cli` -> `collect` / `restore` / `verify` / `packages` -> `archive`
//! (`collect::packages` uses `packages` to run rpm). `accounts` and `etcd` (etcd.conf,
//! the snapshot trailer, the etcd report schema) are shared helpers that import
//! nothing but `archive`.

pub mod accounts;
pub mod archive;
pub mod cli;
pub mod collect;
pub mod crypto;
pub mod packages;
pub mod etcd;
pub mod restore;
pub mod ship;
pub mod verify;
