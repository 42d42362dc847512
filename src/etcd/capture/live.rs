//! The live snapshot: health and status first, then the Maintenance Snapshot stream.
//!
//! A worker thread runs the async etcd client on a current-thread runtime and sends
//! the stream's pieces through a bounded channel (`stream` reads them on the calling
//! thread). At most `CHANNEL_DEPTH` pieces (32 KiB each from etcd) are in flight.
//! All async code of ocpvault is in this file.

use super::datadir::dir_record;
use super::stream::{Event, store_stream};
use super::{EtcdOptions, Target, Timeouts, failed};
use crate::archive::{ArchiveError, SourceReport, Store};
use crate::etcd::record::{EndpointStatus, MemberRecord, hex_id};
use crate::etcd::{SNAPSHOT_PATH, SOURCE_NAME};
use crate::progress::Progress;
use etcd_client::{Certificate, Client, Identity, TlsOptions};
use std::io;
use std::path::Path;
use tokio::sync::mpsc::{Sender, channel};

const CHANNEL_DEPTH: usize = 16;

/// Takes a snapshot of the first healthy endpoint of `target` into `store`.
pub(super) fn capture(
    store: &mut dyn Store,
    target: &Target,
    opts: &EtcdOptions,
    progress: &dyn Progress,
) -> Result<SourceReport, ArchiveError> {
    let mut details = target.details.clone();
    details.data_dir = dir_record(&target.data_dir, &target.data_dir_on_host);
    let tls = match load_tls(target) {
        Ok(tls) => tls,
        Err(e) => return Ok(failed(details, e)),
    };
    let (tx, rx) = channel(CHANNEL_DEPTH);
    let worker = match spawn_worker(target.endpoints.clone(), tls, opts.timeouts, tx) {
        Ok(w) => w,
        Err(e) => {
            return Ok(failed(
                details,
                format!("cannot start the etcd client: {e}"),
            ));
        }
    };
    let stored = match store_stream(store, rx, opts.created, progress)? {
        Ok(stored) => stored,
        // The worker ends on its own once it notices the closed channel.
        Err(e) => return Ok(failed(details, format!("{e}{}", cert_note(target)))),
    };
    let _ = worker.join();
    details.status = Some(stored.status);
    details.members = stored.members;
    details.snapshot = Some(stored.record);
    details.secret_files = vec![SNAPSHOT_PATH.to_string()];
    let mut report = SourceReport::new(SOURCE_NAME);
    report.captured = 1;
    if let Err(error) = stored.index {
        report.failed.push(crate::archive::FailedItem {
            path: crate::etcd::index::KEY_INDEX_PATH.into(),
            error,
        });
    }
    report.details = details.to_map();
    Ok(report)
}

/// The certificate paths, for failure messages (never their content).
fn cert_note(target: &Target) -> String {
    let show = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map_or("none".to_string(), |p| p.display().to_string())
    };
    format!(
        " (cacert {}, cert {}, key {})",
        show(&target.cacert),
        show(&target.cert),
        show(&target.key)
    )
}

fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

/// TLS settings for https endpoints: the trusted CA and the client certificate.
fn load_tls(target: &Target) -> Result<Option<TlsOptions>, String> {
    if !target.endpoints.iter().any(|e| e.starts_with("https://")) {
        return Ok(None);
    }
    let mut tls = TlsOptions::new();
    if let Some(ca) = &target.cacert {
        tls = tls.ca_certificate(Certificate::from_pem(read_pem(ca, "CA certificate")?));
    }
    match (&target.cert, &target.key) {
        (Some(cert), Some(key)) => {
            let cert = read_pem(cert, "client certificate")?;
            let key = read_pem(key, "client key")?;
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        (None, None) => {}
        (Some(c), None) => {
            return Err(format!(
                "client certificate {} has no key; pass --etcd-key",
                c.display()
            ));
        }
        (None, Some(k)) => {
            return Err(format!(
                "client key {} has no certificate; pass --etcd-cert",
                k.display()
            ));
        }
    }
    Ok(Some(tls))
}

fn spawn_worker(
    endpoints: Vec<String>,
    tls: Option<TlsOptions>,
    timeouts: Timeouts,
    tx: Sender<Event>,
) -> io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("etcd-snapshot".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(stream_snapshot(endpoints, tls, timeouts, tx)),
                Err(e) => {
                    let _ = tx.blocking_send(Event::Failed(format!("etcd client runtime: {e}")));
                }
            }
        })
}

/// Tries the endpoints in order; the first healthy one gives status and snapshot.
async fn stream_snapshot(
    endpoints: Vec<String>,
    tls: Option<TlsOptions>,
    t: Timeouts,
    tx: Sender<Event>,
) {
    let mut errors = Vec::new();
    for ep in &endpoints {
        let (mut client, status, members) = match open_endpoint(ep, tls.clone(), t).await {
            Ok(opened) => opened,
            Err(e) => {
                errors.push(format!("{ep}: {e}"));
                continue;
            }
        };
        if tx.send(Event::Ready { status, members }).await.is_err() {
            return;
        }
        let last = match pump(&mut client, &tx, t).await {
            Ok(()) => Event::End,
            Err(e) => Event::Failed(format!("{ep}: snapshot stream: {e}")),
        };
        let _ = tx.send(last).await;
        return;
    }
    let _ = tx.send(Event::Failed(errors.join("; "))).await;
}

/// Connects (TCP and TLS, eagerly, so their errors are reported as such), then checks
/// health the way `etcdctl endpoint health` does and reads status and members.
async fn open_endpoint(
    ep: &str,
    tls: Option<TlsOptions>,
    t: Timeouts,
) -> Result<(Client, EndpointStatus, Vec<MemberRecord>), String> {
    let mut endpoint = tonic::transport::Endpoint::from_shared(ep.to_string())
        .map_err(|e| format!("invalid endpoint URL: {}", error_chain(&e)))?
        .connect_timeout(t.connect)
        .http2_keep_alive_interval(std::time::Duration::from_secs(10))
        .keep_alive_timeout(std::time::Duration::from_secs(20))
        .keep_alive_while_idle(true);
    if let (Some(tls), true) = (tls, ep.starts_with("https://")) {
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| format!("TLS settings: {}", error_chain(&e)))?;
    }
    let channel = match tokio::time::timeout(t.connect * 2, endpoint.connect()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(format!("connect: {}", error_chain(&e))),
        Err(_) => {
            return Err(format!(
                "connect: no answer within {} s",
                (t.connect * 2).as_secs()
            ));
        }
    };
    let mut client = within(
        t,
        "connect",
        Client::from_channel(etcd_client::Channel::Tonic(channel), None),
    )
    .await?;
    let status = within(t, "status", client.status())
        .await
        .map_err(|e| explain_drop(ep, e))?;
    let status = endpoint_status(ep, &status);
    if !status.errors.is_empty() {
        return Err(format!("unhealthy: {}", status.errors.join(", ")));
    }
    if status.leader == hex_id(0) {
        return Err("unhealthy: the member has no leader".into());
    }
    match within(t, "health check", client.get("health", None)).await {
        Ok(_) => {}
        // As etcdctl: a permission error still proves the cluster answered.
        Err(e) if e.contains("permission denied") => {}
        Err(e) => return Err(format!("unhealthy: {e}")),
    }
    let members = within(t, "member list", client.member_list()).await?;
    let members = members
        .members()
        .iter()
        .map(|m| MemberRecord {
            id: hex_id(m.id()),
            name: m.name().to_string(),
            peer_urls: m.peer_urls().to_vec(),
            client_urls: m.client_urls().to_vec(),
            is_learner: m.is_learner(),
        })
        .collect();
    Ok((client, status, members))
}

fn endpoint_status(ep: &str, s: &etcd_client::StatusResponse) -> EndpointStatus {
    let header = s.header();
    EndpointStatus {
        endpoint: ep.to_string(),
        version: s.version().to_string(),
        db_size: s.db_size().max(0) as u64,
        revision: header.map_or(0, |h| h.revision()),
        raft_index: s.raft_index(),
        raft_term: s.raft_term(),
        leader: hex_id(s.leader()),
        member_id: hex_id(header.map_or(0, |h| h.member_id())),
        cluster_id: hex_id(header.map_or(0, |h| h.cluster_id())),
        is_learner: s.is_learner(),
        errors: s.errors().to_vec(),
    }
}

/// Sends the stream's pieces until it ends; `Ok` also when the reader went away.
async fn pump(client: &mut Client, tx: &Sender<Event>, t: Timeouts) -> Result<(), String> {
    let mut stream = within(t, "snapshot", client.snapshot()).await?;
    loop {
        match tokio::time::timeout(t.idle, stream.message()).await {
            Err(_) => return Err(format!("no data for {} s", t.idle.as_secs())),
            Ok(Err(e)) => return Err(describe(&e)),
            Ok(Ok(None)) => return Ok(()),
            Ok(Ok(Some(msg))) if msg.blob().is_empty() => {}
            Ok(Ok(Some(msg))) => {
                if tx.send(Event::Chunk(msg.blob().to_vec())).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}

async fn within<T>(
    t: Timeouts,
    what: &str,
    fut: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(t.request, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {}", describe(&e))),
        Err(_) => Err(format!(
            "{what}: no answer within {} s",
            t.request.as_secs()
        )),
    }
}

/// The server's or the transport's error with its causes, on one line.
fn describe(e: &etcd_client::Error) -> String {
    match e {
        etcd_client::Error::GRpcStatus(s) => {
            let text = if s.message().is_empty() {
                format!("{:?}", s.code())
            } else {
                s.message().to_string()
            };
            match std::error::Error::source(s) {
                Some(src) => dedupe_parts(&join_unique(text, &error_chain(src))),
                None => text,
            }
        }
        etcd_client::Error::TransportError(t) => error_chain(t),
        other => other.to_string(),
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        text = join_unique(text, &s.to_string());
        src = s.source();
    }
    explain_tls(dedupe_parts(&text))
}

/// Layers repeat each other ("canceled: transport error: canceled: closed").
fn dedupe_parts(text: &str) -> String {
    let mut seen = Vec::new();
    for part in text.split(": ") {
        if !seen.contains(&part) {
            seen.push(part);
        }
    }
    seen.join(": ")
}

/// With TLS 1.3 a server that refuses the client certificate does so after the client
/// has finished its handshake, so the client may only see the connection drop on its
/// first request instead of the alert. Say what that most likely means.
fn explain_drop(ep: &str, error: String) -> String {
    let dropped = ["connection closed", "broken pipe", "connection reset"]
        .iter()
        .any(|s| error.contains(s));
    if dropped && ep.starts_with("https://") {
        format!(
            "{error} (the server closed the connection right after the TLS handshake; it most likely did not accept the client certificate)"
        )
    } else {
        error
    }
}

/// Says in words which side refused the TLS handshake.
fn explain_tls(text: String) -> String {
    let why = if text.contains("UnknownIssuer") || text.contains("certificate verify failed") {
        "the server certificate is not signed by the given CA"
    } else if text.contains("BadCertificate")
        || text.contains("UnknownCA")
        || text.contains("CertificateRequired")
    {
        "the server did not accept the client certificate"
    } else if text.contains("UnsupportedCertVersion") {
        "a certificate is X.509 v1; ocpvault's TLS accepts only v3 certificates, as openshift-ansible issues them"
    } else if text.contains("NotValidForName") {
        "the server certificate does not name this endpoint"
    } else {
        return text;
    };
    if text.contains(why) {
        text
    } else {
        format!("{text} ({why})")
    }
}

fn join_unique(mut text: String, more: &str) -> String {
    if more.starts_with(&text) {
        return more.to_string();
    }
    if !more.is_empty() && !text.contains(more) {
        text.push_str(": ");
        text.push_str(more);
    }
    text
}
