//! Host files, both directions: collecting the OpenShift host file set with owners,
//! modes, times and every xattr (`capture`), restoring any part of it safely
//! (`restore`: select -> plan -> apply through pinned directories), and comparing a
//! live or restored tree with an archive (`diff`).
//!
//! Imports: the archive library, `accounts` and `collect` (the source helpers);
//! never the CLI.

pub mod capture;
pub mod diff;
pub mod restore;
