//! OpenShift projects, both directions: running the `oc` client (`oc`), capturing
//! every project's API objects as YAML (`capture`, with `api_resources` and
//! `yaml_scan`), and re-creating a project from those exports (`restore`: load,
//! clean, order, emit, apply).
//!
//! Imports: the archive library and `collect` (the source helpers); never the CLI.

pub mod api_resources;
pub mod capture;
pub mod oc;
pub mod restore;
pub mod yaml_scan;
