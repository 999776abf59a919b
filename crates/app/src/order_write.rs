//! Changing a stored order: read it, change it in memory, write it with compare-and-set, and
//! read it again when another writer got there first. The write's transaction is handed back
//! open, so what goes with the change (history, jobs, outbox entries) commits with it.

use chrono::{DateTime, Utc};
use domain::Order;

use crate::{App, AppError};

/// How many times a change is re-read and re-applied after a conflict.
const ATTEMPTS: usize = 5;

/// A change written, its transaction still open.
pub(crate) struct OrderWrite<T> {
    pub tx: storage::Tx,
    /// The row as it was read (its store, its version before the write).
    pub row: storage::OrderRow,
    pub now: DateTime<Utc>,
    /// What `change` returned.
    pub value: T,
}

impl App {
    /// Apply `change` to order `order_id` and write it. `change` returns `None` when there is
    /// nothing to write (then nothing is written and `None` comes back).
    pub(crate) async fn write_order<T>(
        &self,
        order_id: i64,
        mut change: impl FnMut(&mut Order, DateTime<Utc>) -> Option<T>,
    ) -> Result<Option<OrderWrite<T>>, AppError> {
        for _ in 0..ATTEMPTS {
            let row = self.db.get_order(order_id).await?;
            let now = self.now();
            let mut order = row.order.clone();
            let Some(value) = change(&mut order, now) else {
                return Ok(None);
            };
            let mut tx = self.db.begin().await?;
            match self
                .db
                .update_order(&mut tx, order_id, row.row_version, &order, now)
                .await
            {
                Err(storage::StorageError::Conflict { .. }) => continue,
                other => other?,
            };
            // The countdown job follows the order's countdown in the same transaction.
            self.sync_countdown(
                &mut tx,
                order_id,
                &row.order.countdown,
                &order.countdown,
                now,
            )
            .await?;
            return Ok(Some(OrderWrite {
                tx,
                row,
                now,
                value,
            }));
        }
        Err(AppError::Storage(storage::StorageError::Conflict {
            what: "order",
            id: order_id.to_string(),
        }))
    }
}
