//! Backends for the shared suite.

use chrono::{DateTime, TimeZone, Utc};
use domain::{Order, StoreStatus};
use storage::{Db, DbOptions};

/// An SQLite database in a temporary folder (kept alive by the returned guard).
pub async fn sqlite() -> (Db, Box<dyn std::any::Any>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("pressroom.db").display());
    let db = Db::open(&url, DbOptions::default()).await.unwrap();
    (db, Box::new(dir))
}

/// A fresh database on the machine's Postgres server (dropped with the guard).
pub async fn postgres() -> (Db, Box<dyn std::any::Any>) {
    let pg = testkit::PgDatabase::create().await.unwrap();
    let db = Db::open(&pg.url, DbOptions::default()).await.unwrap();
    (db, Box::new(pg))
}

/// Runs an async test body against both databases.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (db, _guard) = $crate::common::sqlite().await;
                super::$name(db).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let (db, _guard) = $crate::common::postgres().await;
                super::$name(db).await;
            }
        }
    )*};
}

pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_780_000_000 + secs, 0).unwrap()
}

pub fn order(store_order_id: i64, status: &str) -> Order {
    Order {
        store_order_id,
        number: store_order_id.to_string(),
        status: StoreStatus::new(status),
        currency: "USD".into(),
        ..Default::default()
    }
}
