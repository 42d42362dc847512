//! Directory destinations (local disk, NFS mount).

use super::{
    Destination, PutOutcome, RemoteArchive, ShipError, parse_archive_name, parse_sidecar,
    sidecar_text,
};
use crate::archive::ObjectId;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct DirDest {
    dir: PathBuf,
}

impl DirDest {
    pub fn open(dir: &Path) -> Result<Self, ShipError> {
        if !dir.is_dir() {
            return Err(ShipError::Dest {
                dest: dir.display().to_string(),
                why: "not a directory (create it first, or use s3://bucket/prefix)".into(),
            });
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
    /// checked against `expect` (SHA-256, size) when given, then renamed into place.
    fn write_atomic(
        &self,
        name: &str,
        copy: impl FnOnce(&mut File) -> std::io::Result<()>,
        expect: Option<(&ObjectId, u64)>,
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
        tmp.persist(&final_path).map_err(|e| ShipError::Io {
            path: final_path.clone(),
            source: e.error,
        })?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(self.io(&self.dir))
    }
}

impl DirDest {
    fn write_sidecar(&self, name: &str, sha256: &ObjectId) -> Result<(), ShipError> {
        let text = sidecar_text(sha256, name);
        self.write_atomic(
            &format!("{name}.sha256"),
            |f| f.write_all(text.as_bytes()),
            None,
        )
    }

    /// Stores a local file (used by S3 fetch to land downloads atomically).
    pub fn land(
        &self,
        name: &str,
        copy: impl FnOnce(&mut File) -> std::io::Result<()>,
        expect: (&ObjectId, u64),
    ) -> Result<PathBuf, ShipError> {
        let final_path = self.dir.join(name);
        if final_path.exists() {
            return Err(ShipError::Conflict {
                dest: self.describe(),
                name: name.into(),
            });
        }
        self.write_atomic(name, copy, Some(expect))?;
        Ok(final_path)
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
        sent: &mut dyn FnMut(u64),
    ) -> Result<PutOutcome, ShipError> {
        let final_path = self.dir.join(name);
        if final_path.exists() {
            let (have, have_size) = super::hash_local(&final_path)?;
            if have == *sha256 && have_size == size {
                if self.read_sidecar(name).as_deref() != Some(&sha256.to_hex()) {
                    self.write_sidecar(name, sha256)?;
                }
                return Ok(PutOutcome::AlreadyPresent);
            }
            return Err(ShipError::Conflict {
                dest: self.describe(),
                name: name.into(),
            });
        }
        let mut src = File::open(local).map_err(self.io(local))?;
        self.write_atomic(
            name,
            |f| copy_reporting(&mut src, f, sent).map(|_| ()),
            Some((sha256, size)),
        )?;
        self.write_sidecar(name, sha256)?;
        Ok(PutOutcome::Uploaded)
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
            out.push(RemoteArchive {
                sha256: self.read_sidecar(&name),
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
        got: &mut dyn FnMut(u64, u64),
    ) -> Result<PathBuf, ShipError> {
        let src = self.dir.join(name);
        let expect = self.read_sidecar(name).ok_or_else(|| ShipError::Verify {
            dest: self.describe(),
            name: name.into(),
            why: "no .sha256 sidecar".into(),
        })?;
        let local = DirDest::open(out_dir)?;
        let final_path = out_dir.join(name);
        if final_path.exists() {
            return Err(ShipError::Conflict {
                dest: out_dir.display().to_string(),
                name: name.into(),
            });
        }
        let expect_id: ObjectId = expect.parse().map_err(|_| ShipError::Verify {
            dest: self.describe(),
            name: name.into(),
            why: "unreadable sidecar".into(),
        })?;
        let size = std::fs::metadata(&src).map_err(self.io(&src))?.len();
        let mut f = File::open(&src).map_err(self.io(&src))?;
        local.write_atomic(
            name,
            |t| copy_reporting(&mut f, t, &mut |done| got(done, size)).map(|_| ()),
            Some((&expect_id, size)),
        )?;
        Ok(final_path)
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
