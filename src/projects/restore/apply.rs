//! Creating a planned project in a cluster: `oc create -f FILE` for each numbered file,
//! in order, one object per call so that every object gets its own result.
//!
//! An object that already exists (the default service accounts and role bindings the
//! cluster makes for every new project, or a project created by hand first, as the
//! guide does with `oc new-project`) is skipped, not failed. A missing client or an
//! unreachable server stops at once instead of failing every remaining object.

use super::ProjectPlan;
use crate::projects::oc::{Oc, OcError, Refusal};
use std::path::Path;

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", content = "message", rename_all = "lowercase")]
pub enum ApplyStatus {
    Created,
    /// Already there; the server's message.
    Skipped(String),
    /// The server's or the client's error.
    Failed(String),
}

/// The result for one planned object.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApplyResult {
    pub file: String,
    pub kind: String,
    pub name: String,
    #[serde(flatten)]
    pub status: ApplyStatus,
}

/// Creates every object of `plan` from its file in `dir` (written by
/// [`super::write_plan`]), calling `on_result` after each. Stops with the error when
/// the client cannot run or the server cannot be reached.
pub fn apply_plan(
    plan: &ProjectPlan,
    dir: &Path,
    oc: &Oc,
    on_result: &mut dyn FnMut(&ApplyResult),
) -> Result<Vec<ApplyResult>, OcError> {
    let mut results = Vec::with_capacity(plan.objects.len());
    for obj in &plan.objects {
        let path = dir.join(&obj.file);
        let path = path.to_string_lossy();
        let status = match oc.run(&["create", "-f", &path]) {
            Ok(_) => ApplyStatus::Created,
            Err(e) if e.is_fatal() => return Err(e),
            Err(OcError::Refused {
                refusal: Refusal::AlreadyExists,
                message,
            }) => ApplyStatus::Skipped(message),
            Err(e) => ApplyStatus::Failed(e.to_string()),
        };
        let result = ApplyResult {
            file: obj.file.clone(),
            kind: obj.kind.clone(),
            name: obj.name.clone(),
            status,
        };
        on_result(&result);
        results.push(result);
    }
    Ok(results)
}

/// True when any object failed.
pub fn has_failures(results: &[ApplyResult]) -> bool {
    results
        .iter()
        .any(|r| matches!(r.status, ApplyStatus::Failed(_)))
}
