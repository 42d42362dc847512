//! S3-compatible object-store destinations, through the object_store crate.
//!
//! Endpoint, region and credentials come from the usual AWS environment variables
//! (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION or AWS_DEFAULT_REGION,
//! AWS_ENDPOINT_URL) or `--s3-endpoint`. Large archives go up as multipart uploads,
//! which S3 makes visible only when complete; an upload that fails is aborted.

use super::dir::DirDest;
use super::{
    Destination, PutOutcome, RemoteArchive, S3Options, ShipError, Stored, parse_archive_name,
    parse_sidecar, sidecar_text,
};
use crate::archive::ObjectId;
use crate::progress::{Progress, Step};
use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Parts of 8 MiB, at most 2 in flight: bounded memory whatever the archive size.
const PART_SIZE: usize = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT: usize = 2;

/// The EC2 instance metadata service, object_store's last source of credentials.
const INSTANCE_METADATA_ADDR: &str = "169.254.169.254";

/// The AWS credential variables that are unset, when no environment source of
/// credentials is complete (static keys, web identity, or a container endpoint).
fn missing_credential_vars() -> Option<String> {
    let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
    let complete = (set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY"))
        || set("AWS_WEB_IDENTITY_TOKEN_FILE")
        || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        || set("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if complete {
        return None;
    }
    let missing: Vec<&str> = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .into_iter()
        .filter(|v| !set(v))
        .collect();
    Some(match missing.as_slice() {
        [one] => one.to_string(),
        many => many.join(" and "),
    })
}

pub struct S3Dest {
    store: AmazonS3,
    bucket: String,
    prefix: String,
    rt: tokio::runtime::Runtime,
}

impl S3Dest {
    /// `rest` is `bucket[/prefix]` from `s3://bucket/prefix`.
    pub fn open(rest: &str, opts: &S3Options) -> Result<Self, ShipError> {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let dest = format!("s3://{rest}");
        if bucket.is_empty() {
            return Err(ShipError::Dest {
                dest,
                why: "no bucket name".into(),
            });
        }
        // HTTPS goes through rustls with ring, the provider etcd-client's tonic
        // already uses: one TLS stack in the binary. Installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let endpoint = opts
            .endpoint
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        if let Some(ep) = endpoint {
            b = b
                .with_allow_http(ep.starts_with("http://"))
                .with_endpoint(ep);
        }
        if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err() {
            b = b.with_region("us-east-1");
        }
        let store = b.build().map_err(|e| ShipError::Dest {
            dest: dest.clone(),
            why: e.to_string(),
        })?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ShipError::Dest {
                dest,
                why: e.to_string(),
            })?;
        Ok(Self {
            store,
            bucket: bucket.into(),
            prefix: prefix.trim_matches('/').into(),
            rt,
        })
    }

    fn key(&self, name: &str) -> StorePath {
        if self.prefix.is_empty() {
            StorePath::from(name)
        } else {
            StorePath::from(format!("{}/{name}", self.prefix))
        }
    }

    fn err(&self, e: impl std::fmt::Display) -> ShipError {
        let why = e.to_string();
        // With no credentials in the environment, object_store falls back to the EC2
        // instance metadata service; off EC2 its failure names only that address,
        // which tells the user nothing. Name the variables that were missing instead.
        let why = match missing_credential_vars() {
            Some(missing) if why.contains(INSTANCE_METADATA_ADDR) => format!(
                "no S3 credentials: {missing} not set, and no instance role answered at {INSTANCE_METADATA_ADDR}"
            ),
            _ => why,
        };
        ShipError::Dest {
            dest: self.describe(),
            why,
        }
    }

    fn read_sidecar(&self, name: &str) -> Result<Option<String>, ShipError> {
        self.rt.block_on(async {
            match self.store.get(&self.key(&format!("{name}.sha256"))).await {
                Ok(r) => {
                    let bytes = r.bytes().await.map_err(|e| self.err(e))?;
                    Ok(parse_sidecar(&String::from_utf8_lossy(&bytes), name))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.err(e)),
            }
        })
    }

    async fn upload(
        &self,
        local: &Path,
        key: &StorePath,
        size: u64,
        sent: &mut dyn FnMut(u64),
    ) -> Result<(), ShipError> {
        let io = |e: std::io::Error| ShipError::Io {
            path: local.into(),
            source: e,
        };
        let mut f = std::fs::File::open(local).map_err(io)?;
        if size as usize <= PART_SIZE {
            let mut buf = Vec::with_capacity(size as usize);
            f.read_to_end(&mut buf).map_err(io)?;
            self.store
                .put(key, PutPayload::from(buf))
                .await
                .map_err(|e| self.err(e))?;
            sent(size);
            return Ok(());
        }
        let upload = self
            .store
            .put_multipart(key)
            .await
            .map_err(|e| self.err(e))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut buf = vec![0u8; 1024 * 1024];
        let mut done = 0u64;
        loop {
            let n = match f.read(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    let _ = w.abort().await;
                    return Err(io(e));
                }
            };
            if n == 0 {
                break;
            }
            if let Err(e) = w.wait_for_capacity(PARTS_IN_FLIGHT).await {
                return Err(self.err(e));
            }
            w.write(&buf[..n]);
            // Handed over; at most PARTS_IN_FLIGHT parts are still on the wire.
            done += n as u64;
            sent(done);
        }
        w.finish().await.map_err(|e| self.err(e))?;
        Ok(())
    }
}

impl Destination for S3Dest {
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
        let key = self.key(name);
        let existing = self.rt.block_on(self.store.head(&key));
        match existing {
            Ok(meta) => {
                // Whatever the sidecar says, the stored bytes decide: hash them.
                if meta.size == size && self.rt.block_on(self.hash_remote(&key))? == *sha256 {
                    if self.read_sidecar(name)?.as_deref() != Some(&sha256.to_hex()) {
                        self.put_sidecar(name, sha256)?;
                    }
                    return Ok(Stored {
                        outcome: PutOutcome::AlreadyPresent,
                        verified: true,
                    });
                }
                return Err(ShipError::Conflict {
                    dest: self.describe(),
                    name: name.into(),
                });
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.err(e)),
        }
        self.rt.block_on(self.upload(local, &key, size, sent))?;
        let meta = self
            .rt
            .block_on(self.store.head(&key))
            .map_err(|e| self.err(e))?;
        if meta.size != size {
            return Err(ShipError::Verify {
                dest: self.describe(),
                name: name.into(),
                why: format!("stored size {} differs from local size {size}", meta.size),
            });
        }
        // Read the object back: S3's ETag of a multipart upload is no content hash.
        let got = self.rt.block_on(self.hash_remote(&key))?;
        if got != *sha256 {
            return Err(ShipError::Verify {
                dest: self.describe(),
                name: name.into(),
                why: format!("stored object reads back as {got}, expected {sha256}"),
            });
        }
        self.put_sidecar(name, sha256)?;
        Ok(Stored {
            outcome: PutOutcome::Uploaded,
            verified: true,
        })
    }

    fn put_small(&self, key: &str, bytes: &[u8]) -> Result<(), ShipError> {
        // One PUT: S3 makes an object visible only whole.
        self.rt
            .block_on(
                self.store
                    .put(&self.key(key), PutPayload::from(bytes.to_vec())),
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn get_small(&self, key: &str, limit: u64) -> Result<Option<Vec<u8>>, ShipError> {
        let path = self.key(key);
        self.rt.block_on(async {
            let r = match self.store.get(&path).await {
                Ok(r) => r,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(self.err(e)),
            };
            if r.meta.size > limit {
                return Err(self.err(format!("{key}: larger than {limit} bytes")));
            }
            let bytes = r.bytes().await.map_err(|e| self.err(e))?;
            Ok(Some(bytes.to_vec()))
        })
    }

    fn list_small(&self, dir: &str) -> Result<Vec<String>, ShipError> {
        let prefix = self.key(dir);
        let names = self.rt.block_on(async {
            let listed = self
                .store
                .list_with_delimiter(Some(&prefix))
                .await
                .map_err(|e| self.err(e))?;
            Ok::<_, ShipError>(
                listed
                    .objects
                    .iter()
                    .filter_map(|m| m.location.filename().map(str::to_string))
                    .collect::<Vec<_>>(),
            )
        })?;
        let mut names = names;
        names.sort();
        Ok(names)
    }

    fn delete_small(&self, key: &str) -> Result<(), ShipError> {
        match self.rt.block_on(self.store.delete(&self.key(key))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn list(&self) -> Result<Vec<RemoteArchive>, ShipError> {
        let prefix = (!self.prefix.is_empty()).then(|| StorePath::from(self.prefix.as_str()));
        let metas: Vec<_> = self.rt.block_on(async {
            let mut out = Vec::new();
            let mut s = self.store.list(prefix.as_ref());
            while let Some(m) = s.next().await {
                out.push(m.map_err(|e| self.err(e))?);
            }
            Ok::<_, ShipError>(out)
        })?;
        let mut out = Vec::new();
        for m in metas {
            let Some(name) = m.location.filename().map(str::to_string) else {
                continue;
            };
            if parse_archive_name(&name).is_none() {
                continue;
            }
            let head_len = m.size.min(crate::crypto::AGE_MAGIC.len() as u64);
            let head = self
                .rt
                .block_on(self.store.get_range(&m.location, 0..head_len))
                .map_err(|e| self.err(e))?;
            out.push(RemoteArchive {
                sha256: self.read_sidecar(&name)?,
                encrypted: crate::crypto::is_age_header(&head),
                name,
                size: m.size,
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
        let key = self.key(name);
        let size = match self.rt.block_on(self.store.head(&key)) {
            Ok(meta) => meta.size,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(ShipError::NotFound {
                    dest: self.describe(),
                    name: name.into(),
                });
            }
            Err(e) => return Err(self.err(e)),
        };
        let expect = self.read_sidecar(name)?.ok_or_else(|| ShipError::Verify {
            dest: self.describe(),
            name: name.into(),
            why: "no .sha256 sidecar".into(),
        })?;
        let expect_id: ObjectId = expect.parse().map_err(|_| self.err("unreadable sidecar"))?;
        let local = DirDest::open(out_dir, super::Missing::Create)?;
        let step = Step::begin(progress, &format!("fetching {name}"), Some(size));
        local.land(
            name,
            |f| {
                self.rt.block_on(async {
                    let r = self.store.get(&key).await.map_err(std::io::Error::other)?;
                    let mut stream = r.into_stream();
                    let mut done = 0u64;
                    while let Some(chunk) = stream.next().await {
                        let chunk = chunk.map_err(std::io::Error::other)?;
                        f.write_all(&chunk)?;
                        done += chunk.len() as u64;
                        step.total(done);
                    }
                    Ok(())
                })
            },
            (&expect_id, size),
        )
    }

    fn delete(&self, name: &str) -> Result<(), ShipError> {
        self.rt.block_on(async {
            self.store
                .delete(&self.key(name))
                .await
                .map_err(|e| self.err(e))?;
            match self
                .store
                .delete(&self.key(&format!("{name}.sha256")))
                .await
            {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(self.err(e)),
            }
        })
    }

    fn describe(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

impl S3Dest {
    fn put_sidecar(&self, name: &str, sha256: &ObjectId) -> Result<(), ShipError> {
        let text = sidecar_text(sha256, name);
        self.rt
            .block_on(self.store.put(
                &self.key(&format!("{name}.sha256")),
                PutPayload::from(text.into_bytes()),
            ))
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn hash_remote(&self, key: &StorePath) -> Result<ObjectId, ShipError> {
        use sha2::{Digest, Sha256};
        let r = self.store.get(key).await.map_err(|e| self.err(e))?;
        let mut stream = r.into_stream();
        let mut h = Sha256::new();
        while let Some(chunk) = stream.next().await {
            h.update(&chunk.map_err(|e| self.err(e))?);
        }
        Ok(ObjectId::from_hasher(h))
    }
}
