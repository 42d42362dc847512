//! Directory destinations (local disk, NFS mount).

use super::{
    Destination, PutOutcome, RemoteArchive, ShipError, Stored, parse_archive_name, parse_sidecar,
    sidecar_text,
};
use crate::archive::ObjectId;
use crate::progress::{Progress, Step};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct DirDest {
    dir: PathBuf,
}

/// What opening a directory destination does when the directory is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Create it (mode 0700, parents as needed): `ship`, `fetch -o`.
    Create,
    /// Refuse with "does not exist"; `s3_hint` adds the s3:// alternative where the
    /// command also takes S3 destinations (`list`, `prune`).
    Refuse { s3_hint: bool },
}

/// Creates `dir` and its missing parents with mode 0700 (files ocpvault creates are
/// private); an existing directory is left as it is.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

impl DirDest {
    pub fn open(dir: &Path, missing: Missing) -> Result<Self, ShipError> {
        let fail = |why: String| ShipError::Dest {
            dest: dir.display().to_string(),
            why,
        };
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(fail("not a directory".into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match missing {
                Missing::Create => create_private_dir(dir).map_err(|e| ShipError::Io {
                    path: dir.into(),
                    source: e,
                })?,
                Missing::Refuse { s3_hint } => {
                    return Err(fail(if s3_hint {
                        "does not exist (a destination is a directory or s3://bucket/prefix)".into()
                    } else {
                        "does not exist".into()
                    }));
                }
            },
            Err(e) => {
                return Err(ShipError::Io {
                    path: dir.into(),
                    source: e,
                });
            }
        }
        Ok(Self { dir: dir.into() })
    }

    fn io(&self, path: &Path) -> impl Fn(std::io::Error) -> ShipError + '_ {
        let path = path.to_path_buf();
        move |e| ShipError::Io {
            path: path.clone(),
            source: e,
        }
    }

    fn read_sidecar(&self, name: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join(format!("{name}.sha256"))).ok()?;
        parse_sidecar(&text, name)
    }

    /// Writes `dir/name` through a temporary file: `copy` fills it, it is fsynced,
    /// checked against `expect` (SHA-256, size) when given, then placed under its
    /// name. An archive (`replace` false) is placed with the archive writer's
    /// no-replace primitive, so an existing name is never overwritten, even by a
    /// concurrent run (`ShipError::Conflict`); a sidecar (`replace` true), which only
    /// restates the archive's hash, may replace a stale one.
    fn write_atomic(
        &self,
        name: &str,
        copy: impl FnOnce(&mut File) -> std::io::Result<()>,
        expect: Option<(&ObjectId, u64)>,
        replace: bool,
    ) -> Result<(), ShipError> {
        let final_path = self.dir.join(name);
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}.tmp-"))
            .tempfile_in(&self.dir)
            .map_err(self.io(&final_path))?;
        copy(tmp.as_file_mut()).map_err(self.io(&final_path))?;
        tmp.as_file().sync_all().map_err(self.io(&final_path))?;
        if let Some((sha, size)) = expect {
            let (got, got_size) = super::hash_local(tmp.path())?;
            if got != *sha || got_size != size {
                return Err(ShipError::Verify {
                    dest: self.describe(),
                    name: name.into(),
                    why: format!(
                        "copy reads back as {got} ({got_size} bytes), expected {sha} ({size} bytes)"
                    ),
                });
            }
        }
        if replace {
            tmp.persist(&final_path).map_err(|e| ShipError::Io {
                path: final_path.clone(),
                source: e.error,
            })?;
        } else {
            let tmp = tmp.into_temp_path();
            match crate::archive::place_noreplace(&tmp, &final_path) {
                // Placed: the temporary name is gone, nothing left to clean up.
                Ok(()) => drop(tmp.keep()),
                Err(rustix::io::Errno::EXIST) => {
                    return Err(ShipError::Conflict {
                        dest: self.describe(),
                        name: name.into(),
                    });
                }
                Err(e) => return Err(self.io(&final_path)(e.into())),
            }
        }
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(self.io(&self.dir))
    }

    /// True when `dir/name` exists with exactly this content.
    fn holds(&self, name: &str, sha256: &ObjectId, size: u64) -> Result<bool, ShipError> {
        let path = self.dir.join(name);
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(false);
        }
        let (have, have_size) = super::hash_local(&path)?;
        Ok(have == *sha256 && have_size == size)
    }

    /// Places a new archive `name` filled by `copy`, or finds the identical archive
    /// already there (also when a concurrent run placed it first); a different file
    /// under that name is a conflict and stays untouched.
    fn place_archive(
        &self,
        name: &str,
        copy: impl FnOnce(&mut File) -> std::io::Result<()>,
        sha256: &ObjectId,
        size: u64,
    ) -> Result<PutOutcome, ShipError> {
        if self.holds(name, sha256, size)? {
            return Ok(PutOutcome::AlreadyPresent);
        }
        if std::fs::symlink_metadata(self.dir.join(name)).is_ok() {
            return Err(ShipError::Conflict {
                dest: self.describe(),
                name: name.into(),
            });
        }
        match self.write_atomic(name, copy, Some((sha256, size)), false) {
            Err(ShipError::Conflict { .. }) if self.holds(name, sha256, size)? => {
                Ok(PutOutcome::AlreadyPresent)
            }
            Err(e) => Err(e),
            Ok(()) => Ok(PutOutcome::Uploaded),
        }
    }
}

impl DirDest {
    /// Splits `dir/name` into the directory under the destination and the name;
    /// both parts are single plain components.
    fn small_path<'k>(&self, key: &'k str) -> Result<(PathBuf, &'k str), ShipError> {
        let plain = |c: &str| !c.is_empty() && c != "." && c != ".." && !c.contains('/');
        match key.split_once('/') {
            Some((d, n)) if plain(d) && plain(n) => Ok((self.dir.join(d), n)),
            _ => Err(ShipError::Dest {
                dest: self.describe(),
                why: format!("{key}: not a dir/name key"),
            }),
        }
    }

    fn write_sidecar(&self, name: &str, sha256: &ObjectId) -> Result<(), ShipError> {
        let text = sidecar_text(sha256, name);
        self.write_atomic(
            &format!("{name}.sha256"),
            |f| f.write_all(text.as_bytes()),
            None,
            true,
        )
    }

    /// Lands a download as `name` (fetch from a directory or S3): verified against
    /// `expect`, never replacing a file; an identical file already there is
    /// `AlreadyPresent`.
    pub fn land(
        &self,
        name: &str,
        copy: impl FnOnce(&mut File) -> std::io::Result<()>,
        expect: (&ObjectId, u64),
    ) -> Result<(PathBuf, PutOutcome), ShipError> {
        let outcome = self.place_archive(name, copy, expect.0, expect.1)?;
        Ok((self.dir.join(name), outcome))
    }
}

/// Copies `src` to `dst` in 8 MiB steps, each through std's file-to-file fast path
/// (copy_file_range, done in the kernel), reporting the running count after each.
fn copy_reporting(
    src: &mut File,
    dst: &mut File,
    report: &mut dyn FnMut(u64),
) -> std::io::Result<u64> {
    let mut done = 0;
    loop {
        let n = std::io::copy(&mut std::io::Read::take(&mut *src, 8 << 20), dst)?;
        if n == 0 {
            return Ok(done);
        }
        done += n;
        report(done);
    }
}

impl Destination for DirDest {
    fn put(
        &self,
        local: &Path,
        name: &str,
        sha256: &ObjectId,
        size: u64,
        progress: &dyn Progress,
    ) -> Result<Stored, ShipError> {
        let step = Step::begin(progress, &format!("uploading {name}"), Some(size));
        let sent = &mut |done| step.total(done);
        let mut src = File::open(local).map_err(self.io(local))?;
        // Both outcomes hash the stored bytes: a new copy is read back from its
        // temporary name before it is placed, an existing one before it is accepted.
        let outcome = self.place_archive(
            name,
            |f| copy_reporting(&mut src, f, sent).map(|_| ()),
            sha256,
            size,
        )?;
        if self.read_sidecar(name).as_deref() != Some(&sha256.to_hex()) {
            self.write_sidecar(name, sha256)?;
        }
        Ok(Stored {
            outcome,
            verified: true,
        })
    }

    fn put_small(&self, key: &str, bytes: &[u8]) -> Result<(), ShipError> {
        let (sub, name) = self.small_path(key)?;
        create_private_dir(&sub).map_err(self.io(&sub))?;
        let dest = DirDest { dir: sub };
        dest.write_atomic(name, |f| f.write_all(bytes), None, true)
    }

    fn get_small(&self, key: &str, limit: u64) -> Result<Option<Vec<u8>>, ShipError> {
        use std::io::Read;
        let (sub, name) = self.small_path(key)?;
        let path = sub.join(name);
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(&path)(e)),
        };
        let mut buf = Vec::new();
        f.take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(self.io(&path))?;
        if buf.len() as u64 > limit {
            return Err(ShipError::Dest {
                dest: self.describe(),
                why: format!("{key}: larger than {limit} bytes"),
            });
        }
        Ok(Some(buf))
    }

    fn list_small(&self, dir: &str) -> Result<Vec<String>, ShipError> {
        let path = self.dir.join(dir);
        let entries = match std::fs::read_dir(&path) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.io(&path)(e)),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e.map_err(self.io(&path))?;
            if e.file_type().map_err(self.io(&e.path()))?.is_file() {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    fn delete_small(&self, key: &str) -> Result<(), ShipError> {
        let (sub, name) = self.small_path(key)?;
        let path = sub.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => File::open(&sub)
                .and_then(|d| d.sync_all())
                .map_err(self.io(&sub)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io(&path)(e)),
        }
    }

    fn list(&self) -> Result<Vec<RemoteArchive>, ShipError> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.dir).map_err(self.io(&self.dir))? {
            let e = e.map_err(self.io(&self.dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if parse_archive_name(&name).is_none() {
                continue;
            }
            let size = e.metadata().map_err(self.io(&e.path()))?.len();
            let encrypted = crate::crypto::is_age_file(&e.path()).map_err(self.io(&e.path()))?;
            out.push(RemoteArchive {
                sha256: self.read_sidecar(&name),
                encrypted,
                name,
                size,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn fetch(
        &self,
        name: &str,
        out_dir: &Path,
        progress: &dyn Progress,
    ) -> Result<(PathBuf, PutOutcome), ShipError> {
        let src = self.dir.join(name);
        let size = match std::fs::metadata(&src) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ShipError::NotFound {
                    dest: self.describe(),
                    name: name.into(),
                });
            }
            Err(e) => return Err(self.io(&src)(e)),
        };
        let expect = self.read_sidecar(name).ok_or_else(|| ShipError::Verify {
            dest: self.describe(),
            name: name.into(),
            why: "no .sha256 sidecar".into(),
        })?;
        let expect_id: ObjectId = expect.parse().map_err(|_| ShipError::Verify {
            dest: self.describe(),
            name: name.into(),
            why: "unreadable sidecar".into(),
        })?;
        let local = DirDest::open(out_dir, Missing::Create)?;
        let mut f = File::open(&src).map_err(self.io(&src))?;
        let step = Step::begin(progress, &format!("fetching {name}"), Some(size));
        local.land(
            name,
            |t| copy_reporting(&mut f, t, &mut |done| step.total(done)).map(|_| ()),
            (&expect_id, size),
        )
    }

    fn delete(&self, name: &str) -> Result<(), ShipError> {
        let p = self.dir.join(name);
        std::fs::remove_file(&p).map_err(self.io(&p))?;
        let _ = std::fs::remove_file(self.dir.join(format!("{name}.sha256")));
        Ok(())
    }

    fn describe(&self) -> String {
        self.dir.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_is_never_placed_over_an_existing_name() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = DirDest::open(tmp.path(), Missing::Refuse { s3_hint: false }).unwrap();
        let name = "m0-20261122T010000Z.ocpvault";
        // Another run placed its archive between any check and our rename.
        std::fs::write(tmp.path().join(name), b"theirs").unwrap();
        let data = b"ours";
        let id = ObjectId::of_bytes(data);
        let r = dest.write_atomic(name, |f| f.write_all(data), Some((&id, 4)), false);
        assert!(matches!(r, Err(ShipError::Conflict { .. })), "{r:?}");
        assert_eq!(std::fs::read(tmp.path().join(name)).unwrap(), b"theirs");
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn missing_directories_are_created_private_or_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let new = tmp.path().join("a/b");
        let e = DirDest::open(&new, Missing::Refuse { s3_hint: true })
            .err()
            .unwrap();
        assert!(e.to_string().contains("does not exist"), "{e}");
        DirDest::open(&new, Missing::Create).unwrap();
        let mode = std::fs::metadata(&new).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let file = tmp.path().join("f");
        std::fs::write(&file, b"").unwrap();
        let e = DirDest::open(&file, Missing::Create).err().unwrap();
        assert!(e.to_string().contains("not a directory"), "{e}");
    }
}
