//! SQS messages in the store's key-value space: sending (with FIFO deduplication), receiving
//! under visibility timeouts (with FIFO group ordering, retention and dead-letter redrive),
//! deleting and changing visibility by receipt handle, and the wake-ups long polls wait on.
//!
//! The store is the only truth: a receive picks candidates from a committed snapshot, then
//! claims them in one write job that re-checks each one, so two concurrent receives never get
//! the same message, and every change survives a restart.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tributary_model::AwsError;

use super::queues::{self, QueueDoc};
use super::{invalid_param, queue_not_found};
use crate::Sqs;

/// Messages: key = queue id (8 bytes) + sequence (8 bytes), both big-endian, so key order is
/// send order within a queue.
pub(super) const MSG_SPACE: &str = "sqs-msg";
/// FIFO deduplication ids: key = queue id + [group id + NUL] + deduplication id.
pub(super) const DEDUP_SPACE: &str = "sqs-dedup";
/// How long a FIFO deduplication id suppresses duplicates.
const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;
/// Entries read per snapshot scan of a queue.
const SCAN_CHUNK: usize = 256;
/// FIFO sequence numbers are this base plus the store's sequence, so they have 20 digits.
const FIFO_SEQUENCE_BASE: u128 = 10_000_000_000_000_000_000;

pub use tributary_service::peers::MessageAttributeValue;

/// Hex MD5, as SQS reports message bodies.
pub fn md5_hex(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// SQS's MD5 of message attributes: over the attributes sorted by name, each as length-prefixed
/// (4 bytes, big-endian) name and data type, a transport byte (1 string, 2 binary), and the
/// length-prefixed value. `None` for no attributes.
pub fn md5_of_attributes(attrs: &BTreeMap<String, MessageAttributeValue>) -> Option<String> {
    if attrs.is_empty() {
        return None;
    }
    fn put(buf: &mut Vec<u8>, b: &[u8]) {
        buf.extend_from_slice(&(b.len() as u32).to_be_bytes());
        buf.extend_from_slice(b);
    }
    let mut buf = Vec::new();
    for (name, v) in attrs {
        put(&mut buf, name.as_bytes());
        put(&mut buf, v.data_type.as_bytes());
        buf.push(if v.is_binary() { 2 } else { 1 });
        put(&mut buf, v.value_bytes());
    }
    Some(md5_hex(&buf))
}

/// The bytes a message counts against MaximumMessageSize: body plus each attribute's name,
/// data type and value.
pub fn message_size(body: &str, attrs: &BTreeMap<String, MessageAttributeValue>) -> usize {
    body.len()
        + attrs
            .iter()
            .map(|(k, v)| k.len() + v.data_type.len() + v.value_bytes().len())
            .sum::<usize>()
}

/// A message as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredMessage {
    pub id: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, MessageAttributeValue>,
    /// `AWSTraceHeader`, the one system attribute a sender may set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_header: Option<String>,
    pub sender_id: String,
    pub sent_ms: i64,
    /// Not receivable before this instant (delay or visibility timeout), server clock.
    pub visible_at_ms: i64,
    pub receive_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_receive_ms: Option<i64>,
    /// Changes with every receive, so each receipt handle is different.
    #[serde(default)]
    pub receipt_nonce: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_id: Option<String>,
    /// FIFO sequence number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<String>,
    /// The queue a dead-letter queue's message came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlq_source_arn: Option<String>,
}

impl StoredMessage {
    fn expired(&self, retention_ms: i64, now: i64) -> bool {
        self.sent_ms + retention_ms <= now
    }
}

fn msg_key(queue_id: u64, seq: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&queue_id.to_be_bytes());
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

fn seq_of(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(8..16)?.try_into().ok()?))
}

/// The keys of a queue's messages that were not purged: from its purge watermark on.
fn live_bounds(q: &QueueDoc) -> ([u8; 16], [u8; 8]) {
    (msg_key(q.id, q.purged_below), queue_bounds(q.id).1)
}

/// The queue's messages, purged ones as well.
fn queue_bounds(queue_id: u64) -> ([u8; 8], [u8; 8]) {
    (
        queue_id.to_be_bytes(),
        queue_id.saturating_add(1).to_be_bytes(),
    )
}

/// The receipt handle of one receive of one message: queue id, message sequence and the
/// receive's nonce, URL-safe base64.
pub(super) fn receipt_handle(queue_id: u64, seq: u64, nonce: u64) -> String {
    let mut b = [0u8; 24];
    b[..8].copy_from_slice(&queue_id.to_be_bytes());
    b[8..16].copy_from_slice(&seq.to_be_bytes());
    b[16..].copy_from_slice(&nonce.to_be_bytes());
    URL_SAFE_NO_PAD.encode(b)
}

/// `(queue id, sequence)` of a receipt handle, or `ReceiptHandleIsInvalid`.
pub(super) fn parse_receipt_handle(handle: &str) -> Result<(u64, u64), AwsError> {
    let invalid = || {
        AwsError::new(
            "ReceiptHandleIsInvalid",
            400,
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        )
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(handle.trim())
        .map_err(|_| invalid())?;
    if bytes.len() != 24 {
        return Err(invalid());
    }
    let q = u64::from_be_bytes(bytes[..8].try_into().map_err(|_| invalid())?);
    let s = u64::from_be_bytes(bytes[8..16].try_into().map_err(|_| invalid())?);
    Ok((q, s))
}

/// Wakes long polls: one [`Notify`] per queue id that somebody waits on.
#[derive(Default)]
pub struct Waiters(Mutex<HashMap<u64, Arc<Notify>>>);

impl Waiters {
    fn get(&self, queue_id: u64) -> Arc<Notify> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(queue_id).or_default().clone()
    }

    /// Something became receivable (or the queue went away): re-check.
    pub(super) fn wake(&self, queue_id: u64) {
        let m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get(&queue_id) {
            n.notify_waiters();
        }
    }

    /// The queue is gone: wake its waiters and forget it.
    pub(super) fn forget(&self, queue_id: u64) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.remove(&queue_id) {
            n.notify_waiters();
        }
    }
}

/// One message to enqueue, validated.
#[derive(Clone)]
pub(super) struct Outgoing {
    pub body: String,
    pub attrs: BTreeMap<String, MessageAttributeValue>,
    pub trace_header: Option<String>,
    pub delay_s: i64,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    pub sender_id: String,
    pub dlq_source_arn: Option<String>,
}

/// What SendMessage reports for one enqueued (or deduplicated) message.
#[derive(Debug, Clone)]
pub(super) struct Sent {
    pub message_id: String,
    pub md5_body: String,
    pub md5_attrs: Option<String>,
    pub md5_system: Option<String>,
    pub sequence: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct DedupEntry {
    message_id: String,
    #[serde(default)]
    sequence: Option<String>,
    expires_ms: i64,
}

fn dedup_key(q: &QueueDoc, group: Option<&str>, dedup_id: &str) -> Vec<u8> {
    let mut k = q.id.to_be_bytes().to_vec();
    if q.dedup_per_group() {
        k.extend_from_slice(group.unwrap_or_default().as_bytes());
        k.push(0);
    }
    k.extend_from_slice(dedup_id.as_bytes());
    k
}

fn system_md5(trace: &Option<String>) -> Option<String> {
    let t = trace.as_ref()?;
    let mut m = BTreeMap::new();
    m.insert(
        "AWSTraceHeader".to_owned(),
        MessageAttributeValue::string("String", t.clone()),
    );
    md5_of_attributes(&m)
}

/// Enqueues `msgs` in order in one commit (the queue must still be the same incarnation),
/// then wakes long polls. FIFO duplicates within the deduplication window are not enqueued
/// again and report the original message id.
pub(super) async fn enqueue(
    app: &Sqs,
    q: &QueueDoc,
    msgs: Vec<Outgoing>,
) -> Result<Vec<Sent>, AwsError> {
    if msgs.is_empty() {
        return Ok(Vec::new());
    }
    let q2 = q.clone();
    let sent = app
        .store
        .write(move |tx| {
            let now = tx.now_ms();
            let current = queues::lookup_in(tx.catalog(), &q2.name);
            if current.as_ref().map(|c| c.id) != Some(q2.id) {
                return Err(queue_not_found());
            }
            let mut out = Vec::with_capacity(msgs.len());
            for m in msgs.iter().cloned() {
                let md5_body = md5_hex(m.body.as_bytes());
                let md5_attrs = md5_of_attributes(&m.attrs);
                let md5_system = system_md5(&m.trace_header);
                let dkey = m
                    .dedup_id
                    .as_deref()
                    .filter(|_| q2.fifo())
                    .map(|d| dedup_key(&q2, m.group_id.as_deref(), d));
                if let Some(k) = &dkey {
                    if let Some(raw) = tx.kv_get(DEDUP_SPACE, k)? {
                        if let Ok(prev) = serde_json::from_slice::<DedupEntry>(&raw) {
                            if prev.expires_ms > now {
                                out.push(Sent {
                                    message_id: prev.message_id,
                                    md5_body,
                                    md5_attrs,
                                    md5_system,
                                    sequence: prev.sequence,
                                });
                                continue;
                            }
                        }
                    }
                }
                let seq = tx.next_id();
                let sequence = q2
                    .fifo()
                    .then(|| (FIFO_SEQUENCE_BASE + u128::from(seq)).to_string());
                let stored = StoredMessage {
                    id: uuid::Uuid::new_v4().to_string(),
                    body: m.body,
                    attrs: m.attrs,
                    trace_header: m.trace_header,
                    sender_id: m.sender_id,
                    sent_ms: now,
                    visible_at_ms: now + m.delay_s * 1000,
                    receive_count: 0,
                    first_receive_ms: None,
                    receipt_nonce: 0,
                    group_id: m.group_id,
                    dedup_id: m.dedup_id,
                    sequence: sequence.clone(),
                    dlq_source_arn: m.dlq_source_arn,
                };
                let bytes =
                    serde_json::to_vec(&stored).map_err(|e| AwsError::internal(e.to_string()))?;
                tx.kv_put(MSG_SPACE, &msg_key(q2.id, seq), &bytes)?;
                if let Some(k) = dkey {
                    let entry = DedupEntry {
                        message_id: stored.id.clone(),
                        sequence: sequence.clone(),
                        expires_ms: now + DEDUP_WINDOW_MS,
                    };
                    let bytes = serde_json::to_vec(&entry)
                        .map_err(|e| AwsError::internal(e.to_string()))?;
                    tx.kv_put(DEDUP_SPACE, &k, &bytes)?;
                }
                out.push(Sent {
                    message_id: stored.id,
                    md5_body,
                    md5_attrs,
                    md5_system,
                    sequence,
                });
            }
            Ok(out)
        })
        .await?;
    app.sqs_waiters.wake(q.id);
    Ok(sent)
}

/// A message handed to a consumer.
pub(super) struct Received {
    pub msg: StoredMessage,
    pub receipt_handle: String,
}

struct Candidate {
    key: [u8; 16],
    receive_count: u32,
    group: Option<String>,
}

struct Scan {
    candidates: Vec<Candidate>,
    expired: Vec<[u8; 16]>,
    /// The earliest instant a message that is not receivable now becomes receivable.
    next_visible_ms: Option<i64>,
}

/// Reads the queue from a committed snapshot and picks up to `want` receivable messages: any
/// visible ones for a standard queue; for a FIFO queue, per message group only the messages
/// before the group's first one that is not visible (a group with a message in flight yields
/// nothing, so order within a group holds).
fn scan(app: &Sqs, q: &QueueDoc, now: i64, want: usize) -> Result<Scan, AwsError> {
    let (lo, hi) = live_bounds(q);
    let retention_ms = q.retention_s() * 1000;
    let fifo = q.fifo();
    let mut out = Scan {
        candidates: Vec::new(),
        expired: Vec::new(),
        next_visible_ms: None,
    };
    let mut blocked: HashSet<String> = HashSet::new();
    let mut from: Vec<u8> = lo.to_vec();
    let mut inclusive = true;
    loop {
        let lower = if inclusive {
            Bound::Included(from.as_slice())
        } else {
            Bound::Excluded(from.as_slice())
        };
        let chunk = app.store.kv_range(
            MSG_SPACE,
            lower,
            Bound::Excluded(hi.as_slice()),
            false,
            SCAN_CHUNK,
        )?;
        let done = chunk.len() < SCAN_CHUNK;
        for (k, v) in &chunk {
            let Ok(key) = <[u8; 16]>::try_from(k.as_slice()) else {
                continue;
            };
            let m: StoredMessage = match serde_json::from_slice(v) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(queue = %q.name, error = %e, "skipping unreadable message");
                    continue;
                }
            };
            if m.expired(retention_ms, now) {
                out.expired.push(key);
                continue;
            }
            let group = m.group_id.clone().filter(|_| fifo);
            if let Some(g) = &group {
                if blocked.contains(g) {
                    continue;
                }
            }
            if m.visible_at_ms > now {
                out.next_visible_ms = Some(
                    out.next_visible_ms
                        .map_or(m.visible_at_ms, |t| t.min(m.visible_at_ms)),
                );
                if let Some(g) = group {
                    blocked.insert(g);
                }
                continue;
            }
            out.candidates.push(Candidate {
                key,
                receive_count: m.receive_count,
                group,
            });
            if out.candidates.len() >= want {
                return Ok(out);
            }
        }
        match chunk.last() {
            Some((k, _)) if !done => {
                from = k.clone();
                inclusive = false;
            }
            _ => return Ok(out),
        }
    }
}

/// The outcome of one claim attempt.
enum Claim {
    /// The queue was deleted (or re-created) meanwhile.
    Gone,
    Got {
        received: Vec<Received>,
        /// Some candidates were taken by a concurrent receive.
        raced: bool,
        /// Dead-letter queues that got messages.
        moved_to: Vec<u64>,
    },
}

/// Receives up to `max` messages, hiding them for `visibility_s`; waits up to `wait_s`
/// seconds (real time) for messages to arrive or become visible, woken by sends, clock moves
/// and visibility expiries — never by polling.
pub(super) async fn receive(
    app: &Sqs,
    name: &str,
    max: usize,
    visibility_s: Option<i64>,
    wait_s: i64,
) -> Result<Vec<Received>, AwsError> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait_s as u64);
    loop {
        let q = queues::lookup(app, name).ok_or_else(queue_not_found)?;
        // Register for wake-ups before looking, so a send between the look and the wait is
        // not missed.
        let notify = app.sqs_waiters.get(q.id);
        let queue_wake = notify.notified();
        tokio::pin!(queue_wake);
        queue_wake.as_mut().enable();
        let clock_wake = app.time_moved.notified();
        tokio::pin!(clock_wake);
        clock_wake.as_mut().enable();

        let now = app.store.clock().now_millis();
        let found = scan(app, &q, now, max)?;
        let next_visible = found.next_visible_ms;
        if !found.candidates.is_empty() || !found.expired.is_empty() {
            let vt = visibility_s.unwrap_or_else(|| q.visibility_timeout_s());
            match claim(app, &q, found, vt).await? {
                Claim::Gone => return Err(queue_not_found()),
                Claim::Got {
                    received,
                    raced,
                    moved_to,
                } => {
                    for id in moved_to {
                        app.sqs_waiters.wake(id);
                    }
                    if !received.is_empty() {
                        return Ok(received);
                    }
                    if raced {
                        continue;
                    }
                }
            }
        }
        let now_instant = tokio::time::Instant::now();
        if now_instant >= deadline {
            return Ok(Vec::new());
        }
        let mut until = deadline;
        if let Some(t) = next_visible {
            let delta = (t - app.store.clock().now_millis()).max(1) as u64;
            until = until.min(now_instant + std::time::Duration::from_millis(delta));
        }
        tokio::select! {
            _ = &mut queue_wake => {}
            _ = &mut clock_wake => {}
            _ = tokio::time::sleep_until(until) => {}
            _ = app.background.cancelled() => return Ok(Vec::new()),
        }
    }
}

/// Claims the scanned candidates in one write job, re-checking each against the latest
/// state; moves messages past the redrive policy's maxReceiveCount to the dead-letter queue and
/// drops messages past retention.
async fn claim(app: &Sqs, q: &QueueDoc, found: Scan, vt: i64) -> Result<Claim, AwsError> {
    let q = q.clone();
    let source_arn = queues::arn(&app.cfg, &q.name);
    let redrive = q.redrive(&app.cfg);
    app.store
        .write(move |tx| {
            let now = tx.now_ms();
            let current = queues::lookup_in(tx.catalog(), &q.name);
            let Some(purged_below) = current.filter(|c| c.id == q.id).map(|c| c.purged_below)
            else {
                return Ok(Claim::Gone);
            };
            let retention_ms = q.retention_s() * 1000;
            let dlq = redrive.as_ref().and_then(|(dlq_name, max)| {
                queues::lookup_in(tx.catalog(), dlq_name).map(|d| (d, *max))
            });
            let mut received = Vec::new();
            let mut raced = false;
            let mut moved_to = Vec::new();
            let mut failed_groups: HashSet<String> = HashSet::new();
            for c in &found.candidates {
                if let Some(g) = &c.group {
                    if failed_groups.contains(g) {
                        continue;
                    }
                }
                // Purged since the scan.
                if seq_of(&c.key).unwrap_or_default() < purged_below {
                    raced = true;
                    continue;
                }
                let current = tx
                    .kv_get(MSG_SPACE, &c.key)?
                    .and_then(|raw| serde_json::from_slice::<StoredMessage>(&raw).ok());
                let Some(mut m) = current.filter(|m| {
                    m.visible_at_ms <= now
                        && m.receive_count == c.receive_count
                        && !m.expired(retention_ms, now)
                }) else {
                    raced = true;
                    if let Some(g) = &c.group {
                        failed_groups.insert(g.clone());
                    }
                    continue;
                };
                if let Some((d, max)) = &dlq {
                    if m.receive_count >= *max && d.id != q.id {
                        let seq = tx.next_id();
                        m.receive_count = 0;
                        m.first_receive_ms = None;
                        m.visible_at_ms = now;
                        m.dlq_source_arn = Some(source_arn.clone());
                        if !d.fifo() {
                            m.sequence = None;
                        }
                        let bytes = serde_json::to_vec(&m)
                            .map_err(|e| AwsError::internal(e.to_string()))?;
                        tx.kv_delete(MSG_SPACE, &c.key)?;
                        tx.kv_put(MSG_SPACE, &msg_key(d.id, seq), &bytes)?;
                        moved_to.push(d.id);
                        if let Some(g) = &c.group {
                            // Later messages of the group were picked behind this one.
                            failed_groups.insert(g.clone());
                        }
                        continue;
                    }
                }
                m.receive_count += 1;
                m.first_receive_ms.get_or_insert(now);
                m.visible_at_ms = now + vt * 1000;
                m.receipt_nonce = rand::random();
                let bytes =
                    serde_json::to_vec(&m).map_err(|e| AwsError::internal(e.to_string()))?;
                tx.kv_put(MSG_SPACE, &c.key, &bytes)?;
                let seq = seq_of(&c.key).unwrap_or_default();
                received.push(Received {
                    receipt_handle: receipt_handle(q.id, seq, m.receipt_nonce),
                    msg: m,
                });
            }
            for key in &found.expired {
                let still = tx
                    .kv_get(MSG_SPACE, key)?
                    .and_then(|raw| serde_json::from_slice::<StoredMessage>(&raw).ok())
                    .is_some_and(|m| m.expired(retention_ms, now));
                if still {
                    tx.kv_delete(MSG_SPACE, key)?;
                }
            }
            Ok(Claim::Got {
                received,
                raced,
                moved_to,
            })
        })
        .await
}

/// Deletes messages by receipt handle. A handle of a message that is already gone succeeds,
/// as on AWS; a handle that is not one of this queue's is `ReceiptHandleIsInvalid`.
pub(super) async fn delete(
    app: &Sqs,
    q: &QueueDoc,
    handles: Vec<String>,
) -> Result<Vec<Result<(), AwsError>>, AwsError> {
    let mut keys = Vec::with_capacity(handles.len());
    for h in &handles {
        keys.push(parse_handle_for(q, h).map(|seq| msg_key(q.id, seq)));
    }
    let q2 = q.clone();
    app.store
        .write(move |tx| {
            let current = queues::lookup_in(tx.catalog(), &q2.name);
            let Some(current) = current.filter(|c| c.id == q2.id) else {
                return Err(queue_not_found());
            };
            let mut out = Vec::with_capacity(keys.len());
            for k in keys.clone() {
                match k {
                    // A purged message is gone already (the store clears it).
                    Ok(k) if seq_of(&k).unwrap_or_default() < current.purged_below => {
                        out.push(Ok(()));
                    }
                    Ok(k) => {
                        tx.kv_delete(MSG_SPACE, &k)?;
                        out.push(Ok(()));
                    }
                    Err(e) => out.push(Err(e)),
                }
            }
            Ok(out)
        })
        .await
}

fn parse_handle_for(q: &QueueDoc, handle: &str) -> Result<u64, AwsError> {
    let (queue_id, seq) = parse_receipt_handle(handle)?;
    if queue_id != q.id {
        return Err(AwsError::new(
            "ReceiptHandleIsInvalid",
            400,
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        ));
    }
    Ok(seq)
}

/// Sets the visibility timeout of received messages to `timeout` seconds from now.
pub(super) async fn change_visibility(
    app: &Sqs,
    q: &QueueDoc,
    entries: Vec<(String, i64)>,
) -> Result<Vec<Result<(), AwsError>>, AwsError> {
    let keys: Vec<(String, Result<[u8; 16], AwsError>, i64)> = entries
        .into_iter()
        .map(|(h, vt)| {
            let k = parse_handle_for(q, &h).map(|seq| msg_key(q.id, seq));
            (h, k, vt)
        })
        .collect();
    let q2 = q.clone();
    let out = app
        .store
        .write(move |tx| {
            let now = tx.now_ms();
            let current = queues::lookup_in(tx.catalog(), &q2.name);
            let Some(current) = current.filter(|c| c.id == q2.id) else {
                return Err(queue_not_found());
            };
            let retention_ms = q2.retention_s() * 1000;
            let mut out = Vec::with_capacity(keys.len());
            for (handle, key, vt) in keys.clone() {
                let key = match key {
                    Ok(k) => k,
                    Err(e) => {
                        out.push(Err(e));
                        continue;
                    }
                };
                let purged = seq_of(&key).unwrap_or_default() < current.purged_below;
                let msg = (!purged)
                    .then(|| tx.kv_get(MSG_SPACE, &key))
                    .transpose()?
                    .flatten()
                    .and_then(|raw| serde_json::from_slice::<StoredMessage>(&raw).ok())
                    .filter(|m| m.receive_count > 0 && !m.expired(retention_ms, now));
                let Some(mut m) = msg else {
                    out.push(Err(invalid_param(format!(
                        "Value {handle} for parameter ReceiptHandle is invalid. Reason: Message \
                         does not exist or is not available for visibility timeout change."
                    ))));
                    continue;
                };
                m.visible_at_ms = now + vt * 1000;
                let bytes =
                    serde_json::to_vec(&m).map_err(|e| AwsError::internal(e.to_string()))?;
                tx.kv_put(MSG_SPACE, &key, &bytes)?;
                out.push(Ok(()));
            }
            Ok(out)
        })
        .await?;
    // A timeout of 0 makes messages receivable at once.
    app.sqs_waiters.wake(q.id);
    Ok(out)
}

/// Counts of (visible, in flight, delayed) messages, skipping expired ones.
pub(super) fn counts(app: &Sqs, q: &QueueDoc) -> Result<(u64, u64, u64), AwsError> {
    let now = app.store.clock().now_millis();
    let retention_ms = q.retention_s() * 1000;
    let (lo, hi) = live_bounds(q);
    let (mut visible, mut in_flight, mut delayed) = (0, 0, 0);
    let mut from = lo.to_vec();
    let mut inclusive = true;
    loop {
        let lower = if inclusive {
            Bound::Included(from.as_slice())
        } else {
            Bound::Excluded(from.as_slice())
        };
        let chunk = app.store.kv_range(
            MSG_SPACE,
            lower,
            Bound::Excluded(hi.as_slice()),
            false,
            1024,
        )?;
        for (_, v) in &chunk {
            let Ok(m) = serde_json::from_slice::<StoredMessage>(v) else {
                continue;
            };
            if m.expired(retention_ms, now) {
                continue;
            }
            if m.visible_at_ms <= now {
                visible += 1;
            } else if m.receive_count > 0 {
                in_flight += 1;
            } else {
                delayed += 1;
            }
        }
        match chunk.last() {
            Some((k, _)) if chunk.len() == 1024 => {
                from = k.clone();
                inclusive = false;
            }
            _ => return Ok((visible, in_flight, delayed)),
        }
    }
}

/// Removes every message of queue `queue_id` (and, with `dedup`, its deduplication ids) inside
/// a write job.
/// Leaves a purged queue's messages (those with a seq below `below`) for the store to clear.
pub(super) fn discard_below(
    tx: &mut tributary_store::Tx<'_>,
    queue_id: u64,
    below: u64,
) -> Result<(), AwsError> {
    let (lo, _) = queue_bounds(queue_id);
    tx.kv_discard(MSG_SPACE, &lo, &msg_key(queue_id, below))
}

pub(super) fn clear(
    tx: &mut tributary_store::Tx<'_>,
    queue_id: u64,
    dedup: bool,
) -> Result<(), AwsError> {
    let (lo, hi) = queue_bounds(queue_id);
    tx.kv_discard(MSG_SPACE, &lo, &hi)?;
    if dedup {
        tx.kv_discard(DEDUP_SPACE, &lo, &hi)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, MessageAttributeValue)]) -> BTreeMap<String, MessageAttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn md5_of_body_is_hex() {
        assert_eq!(md5_hex(b"msg"), "6e2baaf3b97dbeef01c0043275f9a0e7");
    }

    #[test]
    fn md5_of_attributes_matches_aws() {
        // Recorded on AWS: three String attributes.
        let a = attrs(&[
            ("General", MessageAttributeValue::string("String", "Kenobi")),
            ("Hello", MessageAttributeValue::string("String", "There")),
            ("Help.Me", MessageAttributeValue::string("String", "Me")),
        ]);
        assert_eq!(
            md5_of_attributes(&a).as_deref(),
            Some("4c360f3fdafd970e05fae2f149d997f5")
        );
        let b = attrs(&[("Hello", MessageAttributeValue::string("String", "There"))]);
        assert_eq!(
            md5_of_attributes(&b).as_deref(),
            Some("a311262e065454b75da111d535b8dacd")
        );
        let n = attrs(&[("attr1", MessageAttributeValue::string("Number", "99.12"))]);
        assert_eq!(
            md5_of_attributes(&n).as_deref(),
            Some("d302007e9aa062660afc85fd0a482472")
        );
        assert_eq!(md5_of_attributes(&BTreeMap::new()), None);
    }

    #[test]
    fn receipt_handles_round_trip() {
        let h = receipt_handle(7, 42, 99);
        assert_eq!(parse_receipt_handle(&h).unwrap(), (7, 42));
        let e = parse_receipt_handle("garbage!").unwrap_err();
        assert_eq!(e.code, "ReceiptHandleIsInvalid");
        assert_eq!(
            e.message,
            "The input receipt handle \"garbage!\" is not a valid receipt handle."
        );
    }
}
