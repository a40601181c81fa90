//! The background half of creating a global secondary index: UpdateTable indexes the first
//! [`BACKFILL_STEP`] items itself; the rest are indexed here, one bounded store job at a time,
//! so other writers run between the steps. The index is `CREATING` with `Backfilling: true`
//! (and the table `UPDATING`) until its last step, and cannot be read meanwhile, as on AWS.
//! The cursor is in the catalog, so a restart resumes where the last step stopped.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::tables::BACKFILL_STEP;
use super::DynamoDb;

/// The `(table, index id)` of every index still being backfilled.
fn pending(app: &DynamoDb) -> Vec<(String, u64)> {
    app.store
        .catalog()
        .tables
        .values()
        .flat_map(|t| {
            t.indexes
                .iter()
                .filter(|ix| ix.backfilling())
                .map(|ix| (t.name.clone(), ix.id))
        })
        .collect()
}

pub(crate) async fn run_backfills(app: Arc<DynamoDb>, cancel: CancellationToken) {
    loop {
        let work = pending(&app);
        if work.is_empty() {
            tokio::select! {
                () = app.backfill_wake.notified() => continue,
                () = cancel.cancelled() => return,
            }
        }
        for (table, index_id) in work {
            if cancel.is_cancelled() {
                return;
            }
            let t = table.clone();
            let step = app
                .store
                .write(move |tx| tx.backfill_step(&t, index_id, BACKFILL_STEP))
                .await;
            if let Err(e) = step {
                tracing::warn!(table, error = %e.message, "an index backfill step failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    () = cancel.cancelled() => return,
                }
            }
        }
    }
}
