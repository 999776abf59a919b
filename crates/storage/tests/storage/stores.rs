//! The store connection's tables: stores keep what they are given (sealed values opaque),
//! webhook deliveries keep their bytes and come back in order, many jobs enqueue in few
//! statements in the order given, imports record progress, the outbox keeps writes in order.

use std::collections::BTreeMap;

use serde_json::json;
use storage::{Db, ImportProgress, NewDelivery, NewJob, NewOutbox};

use crate::common::*;
use crate::on_both_databases;

on_both_databases!(
    stores_keep_settings_and_sealed_values_and_their_sync_state,
    a_burst_of_deliveries_is_kept_byte_for_byte_with_its_jobs_in_order,
    imports_record_their_progress,
    the_outbox_hands_out_an_orders_writes_oldest_first,
);

async fn stores_keep_settings_and_sealed_values_and_their_sync_state(db: Db) {
    let secrets = BTreeMap::from([("consumer_secret".to_string(), "v1.opaque".to_string())]);
    db.put_store(
        "shop",
        "Shop",
        "https://shop.example/",
        &json!({"url": "https://shop.example/"}),
        &secrets,
        t(0),
    )
    .await
    .unwrap();
    let row = db.store("shop").await.unwrap().unwrap();
    assert_eq!(row.secrets, secrets);
    assert_eq!(row.settings["url"], "https://shop.example/");
    assert_eq!(row.last_reconcile_at, None);

    // The reconcile mark only moves forward; an error is kept with the time.
    db.record_reconcile("shop", t(10), Some(t(9)), None)
        .await
        .unwrap();
    db.record_reconcile("shop", t(20), Some(t(5)), None)
        .await
        .unwrap();
    db.record_reconcile("shop", t(30), None, Some("the store answered 503"))
        .await
        .unwrap();
    let row = db.store("shop").await.unwrap().unwrap();
    assert_eq!(row.reconciled_until, Some(t(9)));
    assert_eq!(row.last_reconcile_at, Some(t(30)));
    assert_eq!(
        row.last_reconcile_error.as_deref(),
        Some("the store answered 503")
    );

    // Changing the settings keeps the sync state.
    db.put_store(
        "shop",
        "Shop 2",
        "https://shop.example/",
        &json!({}),
        &BTreeMap::new(),
        t(40),
    )
    .await
    .unwrap();
    let row = db.store("shop").await.unwrap().unwrap();
    assert_eq!(
        (row.name.as_str(), row.reconciled_until),
        ("Shop 2", Some(t(9)))
    );
    assert!(db.delete_store("shop").await.unwrap());
    assert!(!db.delete_store("shop").await.unwrap());
    assert!(db.stores().await.unwrap().is_empty());
}

async fn a_burst_of_deliveries_is_kept_byte_for_byte_with_its_jobs_in_order(db: Db) {
    db.put_store("shop", "Shop", "", &json!({}), &BTreeMap::new(), t(0))
        .await
        .unwrap();
    // 250 deliveries: more than one multi-row statement.
    let deliveries: Vec<NewDelivery> = (0..250)
        .map(|i| NewDelivery {
            store_id: "shop".into(),
            topic: "order.updated".into(),
            delivery_id: format!("d-{i}"),
            webhook_id: "42".into(),
            store_order_id: Some(i % 3),
            headers: json!({"X-WC-Webhook-Topic": "order.updated"}),
            // Bytes that are not UTF-8 are kept as they came.
            body: vec![i as u8, 0xff, 0xfe, b'{'],
            received_at: t(i),
        })
        .collect();
    let mut tx = db.begin().await.unwrap();
    let ids = db.insert_deliveries(&mut tx, &deliveries).await.unwrap();
    let jobs: Vec<NewJob> = ids
        .iter()
        .map(|id| NewJob::new("woo_webhook", json!({"delivery": id}), t(0)))
        .collect();
    let job_ids = db.enqueue_many(&mut tx, &jobs, t(0)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids.len(), 250);
    for (i, id) in ids.iter().enumerate() {
        let row = db.delivery(*id).await.unwrap();
        assert_eq!(
            row.delivery, deliveries[i],
            "delivery {i} kept as given, in order"
        );
        assert_eq!(row.processed_at, None);
    }
    for (i, job) in job_ids.iter().enumerate() {
        let row = db.job(*job).await.unwrap();
        assert_eq!(row.kind, "woo_webhook");
        let claimed = db
            .claim(
                "w",
                &["woo_webhook"],
                t(1),
                std::time::Duration::from_secs(30),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            claimed.payload["delivery"], ids[i],
            "jobs in the order given"
        );
    }
    assert_eq!(db.count_deliveries("shop").await.unwrap(), 250);
    assert_eq!(
        db.store("shop").await.unwrap().unwrap().last_webhook_at,
        Some(t(249))
    );

    let mut tx = db.begin().await.unwrap();
    db.mark_delivery(&mut tx, ids[0], "created", Some(7), t(300))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let row = db.delivery(ids[0]).await.unwrap();
    assert_eq!(
        (row.outcome.as_deref(), row.order_id, row.processed_at),
        (Some("created"), Some(7), Some(t(300)))
    );
    assert_eq!(
        db.deliveries("shop", 3).await.unwrap()[0].id,
        ids[249],
        "newest first"
    );
}

async fn imports_record_their_progress(db: Db) {
    let id = db
        .start_import("shop", &json!({"scope": "all"}), "merchant:cli", t(0))
        .await
        .unwrap();
    let mut p = ImportProgress {
        total: 3,
        seen: 2,
        created: 1,
        unchanged: 1,
        ..Default::default()
    };
    db.update_import(id, &p, None).await.unwrap();
    assert_eq!(db.import(id).await.unwrap().state, "running");
    p.seen = 3;
    p.failed = 1;
    p.failures
        .push(json!({"store_order_id": 9, "reason": "bad"}));
    db.update_import(id, &p, Some((t(5), None))).await.unwrap();
    let row = db.import(id).await.unwrap();
    assert_eq!((row.state.as_str(), row.finished_at), ("done", Some(t(5))));
    assert_eq!(row.progress, p);
}

async fn the_outbox_hands_out_an_orders_writes_oldest_first(db: Db) {
    let mut tx = db.begin().await.unwrap();
    let order_id = db
        .insert_order(&mut tx, "shop", &order(1, "processing"), t(0))
        .await
        .unwrap();
    let mut ids = vec![];
    for status in ["on-hold", "processing"] {
        let payload = json!({"status": status});
        ids.push(
            db.add_outbox(
                &mut tx,
                &NewOutbox {
                    store_id: "shop",
                    order_id,
                    kind: "status",
                    payload: &payload,
                    actor: "merchant:m",
                },
                t(1),
            )
            .await
            .unwrap(),
        );
    }
    let first = db.next_outbox(&mut tx, order_id).await.unwrap().unwrap();
    assert_eq!(
        (first.id, first.payload["status"].as_str()),
        (ids[0], Some("on-hold"))
    );
    tx.commit().await.unwrap();
    assert!(db.has_pending_outbox(order_id, "status").await.unwrap());
    assert!(!db.has_pending_outbox(order_id, "note").await.unwrap());

    db.outbox_attempt_failed(ids[0], "the store answered 503")
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    let again = db.next_outbox(&mut tx, order_id).await.unwrap().unwrap();
    assert_eq!(
        (again.id, again.attempts, again.last_error.as_deref()),
        (ids[0], 1, Some("the store answered 503"))
    );
    db.outbox_delivered(&mut tx, ids[0], t(2)).await.unwrap();
    let next = db.next_outbox(&mut tx, order_id).await.unwrap().unwrap();
    assert_eq!(next.id, ids[1]);
    db.outbox_delivered(&mut tx, ids[1], t(3)).await.unwrap();
    assert!(db.next_outbox(&mut tx, order_id).await.unwrap().is_none());
    tx.commit().await.unwrap();
    assert!(!db.has_pending_outbox(order_id, "status").await.unwrap());
    let all = db.outbox_for_order(order_id).await.unwrap();
    assert_eq!(
        all.iter().map(|w| w.state.as_str()).collect::<Vec<_>>(),
        ["delivered", "delivered"]
    );
    assert_eq!(all[0].attempts, 2);
}
