//! Orders, history and renders.

use domain::{Actor, EventKind, HistoryEvent};
use serde_json::json;
use storage::{Db, NewRender, StorageError};

use crate::common::{order, t};
use crate::on_both_databases;

on_both_databases!(
    an_order_round_trips_with_its_status_verbatim,
    a_second_import_of_the_same_store_order_is_refused,
    order_updates_are_compare_and_set,
    status_updates_are_compare_and_set_on_the_verbatim_status,
    history_is_append_only_and_keeps_payloads,
    renders_get_increasing_versions_and_old_ones_stay,
    a_rolled_back_transaction_leaves_nothing,
    template_versions_are_recorded_and_updated,
);

async fn template_versions_are_recorded_and_updated(db: Db) {
    db.upsert_template("name-tag", "1", "aa", "/t/name-tag", t(0))
        .await
        .unwrap();
    db.upsert_template("pet-portrait", "2", "bb", "/t/pet-portrait", t(0))
        .await
        .unwrap();
    db.upsert_template("name-tag", "2", "cc", "/t/name-tag", t(5))
        .await
        .unwrap();
    let rows = db.templates().await.unwrap();
    let summary: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.id.as_str(),
                r.version.as_str(),
                r.manifest_sha256.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("name-tag", "2", "cc"), ("pet-portrait", "2", "bb")]
    );
    assert_eq!(rows[0].updated_at, t(5));
}

async fn an_order_round_trips_with_its_status_verbatim(db: Db) {
    let mut o = order(727, "On Hold");
    o.totals.total = "29.35".parse().unwrap();
    let mut tx = db.begin().await.unwrap();
    let id = db.insert_order(&mut tx, "shop", &o, t(0)).await.unwrap();
    tx.commit().await.unwrap();
    let row = db.get_order(id).await.unwrap();
    assert_eq!(row.order, o);
    assert_eq!(row.order.status.raw, "On Hold");
    assert_eq!(row.order.totals.total.to_string(), "29.35");
    assert_eq!(row.row_version, 1);
    assert_eq!(db.find_order("shop", 727).await.unwrap().unwrap().id, id);
    assert!(db.find_order("other-shop", 727).await.unwrap().is_none());
    assert!(matches!(
        db.get_order(id + 1000).await,
        Err(StorageError::NotFound { .. })
    ));
}

async fn a_second_import_of_the_same_store_order_is_refused(db: Db) {
    let mut tx = db.begin().await.unwrap();
    let id = db
        .insert_order(&mut tx, "shop", &order(1, "processing"), t(0))
        .await
        .unwrap();
    let again = db
        .insert_order(&mut tx, "shop", &order(1, "processing"), t(1))
        .await;
    match again {
        Err(StorageError::DuplicateOrder { existing, .. }) => assert_eq!(existing, id),
        other => panic!("expected DuplicateOrder, got {other:?}"),
    }
    // Another store may use the same order id.
    db.insert_order(&mut tx, "shop-2", &order(1, "processing"), t(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn order_updates_are_compare_and_set(db: Db) {
    let mut tx = db.begin().await.unwrap();
    let id = db
        .insert_order(&mut tx, "shop", &order(2, "processing"), t(0))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let row = db.get_order(id).await.unwrap();
    let mut mine = row.order.clone();
    mine.payment_method = "bacs".into();
    let mut theirs = row.order.clone();
    theirs.payment_method = "stripe".into();

    let mut tx = db.begin().await.unwrap();
    let v2 = db
        .update_order(&mut tx, id, row.row_version, &mine, t(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(v2, 2);

    let mut tx = db.begin().await.unwrap();
    let late = db
        .update_order(&mut tx, id, row.row_version, &theirs, t(2))
        .await;
    assert!(
        matches!(late, Err(StorageError::Conflict { .. })),
        "{late:?}"
    );
    tx.rollback().await.unwrap();
    assert_eq!(db.get_order(id).await.unwrap().order.payment_method, "bacs");
}

async fn status_updates_are_compare_and_set_on_the_verbatim_status(db: Db) {
    let mut tx = db.begin().await.unwrap();
    let id = db
        .insert_order(&mut tx, "shop", &order(3, "processing"), t(0))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut held = db.get_order(id).await.unwrap().order;
    held.apply_store_status("On hold", t(1));
    let mut tx = db.begin().await.unwrap();
    assert!(
        db.compare_and_set_status(&mut tx, id, "processing", &held, t(1))
            .await
            .unwrap()
    );
    // A second writer that still believes the order is "processing" loses.
    let mut done = held.clone();
    done.apply_store_status("completed", t(2));
    assert!(
        !db.compare_and_set_status(&mut tx, id, "processing", &done, t(2))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert_eq!(db.get_order(id).await.unwrap().order.status.raw, "On hold");
}

async fn history_is_append_only_and_keeps_payloads(db: Db) {
    let mut tx = db.begin().await.unwrap();
    let id = db
        .insert_order(&mut tx, "shop", &order(4, "processing"), t(0))
        .await
        .unwrap();
    let events = [
        HistoryEvent {
            at: t(0),
            actor: Actor::Store,
            kind: EventKind::Imported,
            message: "imported".into(),
            payload: Some(json!({"id": 4, "status": "processing"})),
        },
        HistoryEvent {
            at: t(5),
            actor: Actor::Merchant("alice".into()),
            kind: EventKind::RenderRequested,
            message: "re-render item 316".into(),
            payload: None,
        },
    ];
    for e in &events {
        db.append_history(&mut tx, id, e).await.unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(db.history(id).await.unwrap(), events);

    // The database itself refuses to rewrite history.
    let rewrite = sqlx_exec(&db, "UPDATE history SET message = 'edited'").await;
    assert!(rewrite.is_err(), "history rows must not be updatable");
    let delete = sqlx_exec(&db, "DELETE FROM history").await;
    assert!(delete.is_err(), "history rows must not be deletable");
    assert_eq!(db.history(id).await.unwrap().len(), 2);
}

async fn sqlx_exec(db: &Db, sql: &str) -> Result<(), String> {
    db.execute_raw_for_tests(sql)
        .await
        .map_err(|e| e.to_string())
}

fn render(order_id: i64, item_id: i64, n: u8) -> NewRender {
    NewRender {
        order_id,
        item_id,
        job_id: None,
        template_id: "pet-portrait".into(),
        print_key: format!("orders/{order_id}/items/{item_id}/{n:064x}.png"),
        print_sha256: format!("{n:064x}"),
        print_size: 1000 + i64::from(n),
        preview_key: format!("orders/{order_id}/items/{item_id}/p{n}.jpg"),
        mockup_key: None,
        report_key: format!("orders/{order_id}/items/{item_id}/r{n}.json"),
        preflight: json!({"findings": []}),
        preflight_errors: 0,
        preflight_warnings: i64::from(n),
        record: json!({"renderer_version": "0.1.0"}),
        duration_ms: 120,
    }
}

async fn renders_get_increasing_versions_and_old_ones_stay(db: Db) {
    let mut tx = db.begin().await.unwrap();
    let id = db
        .insert_order(&mut tx, "shop", &order(5, "processing"), t(0))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for n in 1..=3u8 {
        let mut tx = db.begin().await.unwrap();
        let row = db
            .record_render(&mut tx, &render(id, 316, n), t(i64::from(n)))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(row.version, i64::from(n));
    }
    let all = db.renders(id).await.unwrap();
    assert_eq!(all.iter().map(|r| r.version).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(all[0].render, render(id, 316, 1));
    assert_eq!(
        db.render(all[1].id)
            .await
            .unwrap()
            .render
            .preflight_warnings,
        2
    );
}

async fn a_rolled_back_transaction_leaves_nothing(db: Db) {
    let mut tx = db.begin().await.unwrap();
    let id = db
        .insert_order(&mut tx, "shop", &order(6, "processing"), t(0))
        .await
        .unwrap();
    db.enqueue(
        &mut tx,
        &storage::NewJob::new("render", json!({}), t(0)),
        t(0),
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert!(db.get_order(id).await.is_err());
    assert_eq!(db.queue_counts().await.unwrap().queued, 0);
}
