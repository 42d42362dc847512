//! Parses the table `oc api-resources --namespaced=true -o wide` prints, to learn which
//! namespaced resource types the server has and which of them can be listed.
//!
//! The table is aligned in columns (Go's tabwriter): every cell starts at the offset of
//! its header, and empty cells (no short names, the core group) are blank. oc 3.11
//! (kubectl 1.11) prints `NAME SHORTNAMES APIGROUP NAMESPACED KIND VERBS`; newer
//! clients print `APIVERSION` (`apps/v1`, `v1`) instead of `APIGROUP` and may add
//! `CATEGORIES`; both are understood.

/// One resource type the server serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResource {
    /// Plural resource name, e.g. `deploymentconfigs`.
    pub name: String,
    /// API group, empty for the core group.
    pub group: String,
    pub kind: String,
    /// The verbs the server advertises (`[get list]` or `get,list`); empty when it
    /// advertises none.
    pub verbs: Vec<String>,
}

impl ApiResource {
    /// The argument that names exactly this type to `oc get`: `name.group`, or `name`
    /// for the core group.
    pub fn qualified_name(&self) -> String {
        if self.group.is_empty() {
            self.name.clone()
        } else {
            format!("{}.{}", self.name, self.group)
        }
    }

    /// True when the type can be listed. A server that advertises no verbs at all
    /// (older aggregated APIs) is asked anyway, and a refusal is recorded then.
    pub fn is_listable(&self) -> bool {
        self.verbs.is_empty() || self.verbs.iter().any(|v| v == "list")
    }
}

/// Why the table could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiResourcesError {
    #[error("no header line with NAME and VERBS columns (was it run with -o wide?)")]
    NoHeader,
}

/// Parses the whole table. Rows whose name is not a plain resource name are dropped.
pub fn parse_api_resources(text: &str) -> Result<Vec<ApiResource>, ApiResourcesError> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with("NAME "));
    let header = lines.next().ok_or(ApiResourcesError::NoHeader)?;
    let columns = Columns::from_header(header).ok_or(ApiResourcesError::NoHeader)?;
    Ok(lines
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| columns.row(l))
        .filter(|r| is_resource_name(&r.name) && is_group_name(&r.group))
        .collect())
}

/// True for names that are safe as one path component: lowercase letters, digits,
/// '-' and '.', not starting with '.'.
pub fn is_resource_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

fn is_group_name(group: &str) -> bool {
    group.is_empty() || is_resource_name(group)
}

/// Byte offsets of the columns in the header.
struct Columns {
    starts: Vec<(String, usize)>,
}

impl Columns {
    fn from_header(header: &str) -> Option<Self> {
        let mut starts = Vec::new();
        let mut prev_space = true;
        for (i, c) in header.char_indices() {
            if c != ' ' && prev_space {
                let word: String = header[i..].chars().take_while(|c| *c != ' ').collect();
                starts.push((word, i));
            }
            prev_space = c == ' ';
        }
        let has = |n: &str| starts.iter().any(|(w, _)| w == n);
        (has("NAME") && has("VERBS")).then_some(Self { starts })
    }

    fn cell<'a>(&self, line: &'a str, name: &str) -> Option<&'a str> {
        let idx = self.starts.iter().position(|(w, _)| w == name)?;
        let start = self.starts[idx].1;
        let end = self.starts.get(idx + 1).map_or(line.len(), |(_, s)| *s);
        let cell = line.get(start.min(line.len())..end.min(line.len()))?;
        Some(cell.trim())
    }

    fn row(&self, line: &str) -> Option<ApiResource> {
        let name = self.cell(line, "NAME")?.to_string();
        let group = match self.cell(line, "APIGROUP") {
            Some(g) => g.to_string(),
            None => group_of_version(self.cell(line, "APIVERSION").unwrap_or("")),
        };
        let verbs = self
            .cell(line, "VERBS")
            .unwrap_or("")
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect();
        Some(ApiResource {
            name,
            group,
            kind: self.cell(line, "KIND").unwrap_or("").to_string(),
            verbs,
        })
    }
}

/// `apps/v1` -> `apps`; `v1` -> the core group.
fn group_of_version(api_version: &str) -> String {
    api_version
        .rsplit_once('/')
        .map_or(String::new(), |(g, _)| g.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OC_311: &str = "\
NAME                    SHORTNAMES   APIGROUP             NAMESPACED   KIND                  VERBS
bindings                                                  true         Binding               [create]
configmaps              cm                                true         ConfigMap             [create delete deletecollection get list patch update watch]
deploymentconfigs       dc           apps.openshift.io    true         DeploymentConfig      [create delete deletecollection get list patch update watch]
imagestreamimages       isimage      image.openshift.io   true         ImageStreamImage      [get]
legacythings                         old.example.com      true         LegacyThing           []
";

    #[test]
    fn reads_the_oc_311_table() {
        let r = parse_api_resources(OC_311).unwrap();
        let names: Vec<String> = r.iter().map(ApiResource::qualified_name).collect();
        assert_eq!(
            names,
            [
                "bindings",
                "configmaps",
                "deploymentconfigs.apps.openshift.io",
                "imagestreamimages.image.openshift.io",
                "legacythings.old.example.com"
            ]
        );
        let listable: Vec<bool> = r.iter().map(ApiResource::is_listable).collect();
        assert_eq!(listable, [false, true, true, false, true]);
        assert_eq!(r[2].kind, "DeploymentConfig");
    }

    #[test]
    fn reads_the_newer_table_with_apiversion() {
        let text = "\
NAME          SHORTNAMES   APIVERSION   NAMESPACED   KIND         VERBS                                     CATEGORIES
configmaps    cm           v1           true         ConfigMap    create,delete,get,list                    
deployments   deploy       apps/v1      true         Deployment   [create delete get list patch]            all
";
        let r = parse_api_resources(text).unwrap();
        assert_eq!(r[0].qualified_name(), "configmaps");
        assert_eq!(r[1].qualified_name(), "deployments.apps");
        assert!(r[1].is_listable());
    }

    #[test]
    fn refuses_a_table_without_verbs_and_odd_names() {
        assert_eq!(
            parse_api_resources("NAME KIND\nx X\n"),
            Err(ApiResourcesError::NoHeader)
        );
        let r = parse_api_resources(
            "NAME       APIGROUP   NAMESPACED   KIND   VERBS\n../evil               true         E      [list]\n",
        )
        .unwrap();
        assert!(r.is_empty());
    }
}
