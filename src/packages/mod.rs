//! Installed rpm packages: the list model and its on-archive form
//! (formats/packages-json.md), running rpm, rpm's version ordering, and the drift
//! between an archived list and a current one.
//!
//! Imports only the archive layer; the snapshot source lives in
//! `collect::packages`, the commands in `cli::packages_cmd`.

pub mod capture;
pub mod diff;
pub mod list;
pub mod rpm;
pub mod vercmp;

pub use diff::{
    Change, ChangeRecord, DiffOptions, DiffReport, PackageChange, diff_packages, shell_word,
    yum_commands,
};
pub use list::{
    ListError, PACKAGES_JSON, PACKAGES_TXT, Package, TextListing, load_from_archive, read_json,
    read_text_listing, sort_packages, to_json,
};
pub use rpm::{RpmError, RpmOptions};
pub use vercmp::{compare_evr, rpmvercmp};
