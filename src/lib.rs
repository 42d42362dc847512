//! ocpvault: offline backup and restore for OpenShift 3.x hosts.
//!
//! Layers, each importing only the ones below it:
//! `cli` -> `collect` / `restore` / `verify` -> `archive`. `oc` (running the OpenShift
//! client) and `accounts` are helpers below `collect` and `restore`.

pub mod accounts;
pub mod archive;
pub mod cli;
pub mod collect;
pub mod oc;
pub mod restore;
pub mod verify;
