//! ocpvault: offline backup and restore for OpenShift 3.x hosts.
//!
//! Layers, each importing only the ones below it:
//! `cli` -> `collect` / `restore` / `verify` / `diff` / `packages` -> `archive`
//! (`collect::packages` uses `packages` to run rpm). `accounts`, `oc` (running the
//! OpenShift client) and `etcd` (etcd.conf, the snapshot trailer, the etcd report
//! schema) are shared helpers below `collect` and `restore`.

/// The archive format lives in its own crate (no async runtime, no gRPC, no S3).
pub use ocpvault_archive as archive;
pub use ocpvault_archive::{crypto, verify};

pub mod accounts;
pub mod cli;
pub mod collect;
pub mod config;
pub mod diff;
pub mod etcd;
pub mod oc;
pub mod packages;
pub mod progress;
pub mod restore;
pub mod shell;
pub mod ship;
