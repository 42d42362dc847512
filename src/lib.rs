//! ocpvault: offline backup and restore for OpenShift 3.x hosts.
//!
//! Layers, each importing only the ones below it:
//! `cli` -> `collect` / `restore` / `verify` -> `archive`.
//! `accounts` and `etcd` (etcd.conf, the snapshot trailer, the etcd report schema)
//! are shared helpers that import nothing but `archive`.

pub mod accounts;
pub mod archive;
pub mod cli;
pub mod collect;
pub mod etcd;
pub mod restore;
pub mod verify;
