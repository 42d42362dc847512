//! The integration tests: one test binary (linking the crate once instead of once per
//! file), one module per area. Each test drives the built `ocpvault` binary (or the
//! library) in its own temporary directory.

mod common;
mod etcd_support;

mod ansible;
mod archive_cli;
mod cli_output;
mod config;
mod corruption;
mod crypto_ship;
mod diff;
mod etcd;
mod etcd_browse;
mod etcd_seek;
mod fuzz_regressions;
mod host_trees;
mod hostile;
mod hostile_inplace;
mod json_schemas;
mod man_pages;
mod owners;
mod packages;
mod progress;
mod projects;
mod restore_parallel;
mod restore_plan;
mod rpm_package;
mod rpmvercmp;
mod runs;
mod secrets;
mod static_build;
mod writer_direct;
