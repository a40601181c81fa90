//! Time to live: a background sweeper deletes items whose TTL attribute (epoch seconds) lies in
//! the past of the server clock, writing REMOVE stream records marked as service deletions
//! (`userIdentity` dynamodb.amazonaws.com). Expired items are found through an internal index
//! ordered by the TTL attribute, so a sweep costs only what it deletes.

use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tributary_model::attr::{AttributeValue, Item};
use tributary_model::keyenc::encode_key_attr;
use tributary_model::number;
use tributary_store::{ChangeCause, ItemChange, KeySpace, TableMeta};

use super::tables::INTERNAL_INDEX_PREFIX;
use crate::DynamoDb;

/// How often the sweeper looks for expired items when nothing wakes it earlier.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// Items whose expiry lies more than five years in the past are never deleted (as on AWS).
const MAX_PAST_SECS: i64 = 5 * 365 * 24 * 3600;
/// Deletions per table per sweep round, so one huge backlog does not hog the writer.
const BATCH: usize = 500;

pub(crate) async fn run_ttl_sweeper(app: Arc<DynamoDb>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_INTERVAL) => {}
            _ = app.ttl_wake.notified() => {}
        }
        let tables: Vec<TableMeta> = app
            .store
            .catalog()
            .tables
            .values()
            .filter(|t| t.ttl_attribute.is_some())
            .cloned()
            .collect();
        for t in tables {
            loop {
                match sweep_once(&app, &t).await {
                    Ok(n) if n == BATCH => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(table = %t.name, error = %e, "ttl sweep failed");
                        break;
                    }
                }
            }
        }
    }
}

fn bound_for(secs: i64) -> Vec<u8> {
    let mut b = Vec::new();
    encode_key_attr(&AttributeValue::N(secs.to_string()), &mut b);
    b
}

/// Deletes up to [`BATCH`] expired items of one table; returns how many it deleted.
async fn sweep_once(app: &DynamoDb, t: &TableMeta) -> Result<usize, tributary_model::AwsError> {
    let Some(attr) = t.ttl_attribute.clone() else {
        return Ok(0);
    };
    let Some(ix) = t
        .indexes
        .iter()
        .find(|i| i.name.starts_with(INTERNAL_INDEX_PREFIX))
    else {
        return Ok(0);
    };
    let now_secs = app.store.clock().now_millis().div_euclid(1000);
    let lo = bound_for(now_secs - MAX_PAST_SECS);
    let hi = bound_for(now_secs);
    let expired = app.store.range(
        KeySpace::Index(ix.id),
        Bound::Included(lo.as_slice()),
        Bound::Excluded(hi.as_slice()),
        false,
        BATCH,
    )?;
    let mut deleted = 0;
    for (_, entry) in expired {
        let mut key = Vec::new();
        let mut keys = Item::new();
        for k in std::iter::once(&t.key_schema.hash).chain(t.key_schema.range.as_ref()) {
            let Some(v) = entry.get(&k.name) else {
                continue;
            };
            encode_key_attr(v, &mut key);
            keys.insert(k.name.clone(), v.clone());
        }
        let (name, table_id, attr) = (t.name.clone(), t.id, attr.clone());
        let done = app
            .store
            .write(move |tx| {
                // Re-check inside the transaction: the item may have changed meanwhile.
                if tx.catalog().tables.get(&name).map(|t| t.id) != Some(table_id) {
                    return Ok(false);
                }
                let Some(old) = tx.get_item(table_id, &key)? else {
                    return Ok(false);
                };
                let expired = match old.get(&attr) {
                    Some(AttributeValue::N(n)) => {
                        number::compare(n, &now_secs.to_string()).is_lt()
                            && number::compare(n, &(now_secs - MAX_PAST_SECS).to_string()).is_ge()
                    }
                    _ => false,
                };
                if !expired {
                    return Ok(false);
                }
                tx.commit_change(ItemChange {
                    table: &name,
                    table_id,
                    key: &key,
                    keys: &keys,
                    old: Some(&old),
                    new: None,
                    cause: ChangeCause::TtlExpiry,
                })?;
                Ok(true)
            })
            .await?;
        deleted += done as usize;
    }
    Ok(deleted)
}
