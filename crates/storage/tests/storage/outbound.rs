//! Outbound webhooks' tables: endpoints keep what they are given (the sealed secret opaque),
//! deliveries are written in the caller's transaction (a rollback leaves none), an attempt
//! changes only a queued delivery and is logged once, and removing an endpoint takes its
//! deliveries and their log with it.

use storage::{AttemptEnd, Db, NewEndpoint, NewOutboundDelivery, OutboundAttempt, OutboundState};

use crate::common::*;
use crate::on_both_databases;

on_both_databases!(
    endpoints_keep_their_url_events_and_sealed_secret,
    deliveries_commit_with_the_callers_transaction_and_log_every_attempt,
    removing_an_endpoint_removes_its_deliveries_and_their_log,
);

fn endpoint<'a>(id: &'a str, events: &'a [String]) -> NewEndpoint<'a> {
    NewEndpoint {
        id,
        url: "https://hooks.example/pressroom",
        events,
        secret_sealed: "v1.opaque",
        description: "ERP",
    }
}

fn delivery(endpoint_id: &str) -> NewOutboundDelivery<'_> {
    NewOutboundDelivery {
        endpoint_id,
        event_id: "evt_1",
        event_type: "order.imported",
        order_id: Some(7),
        payload: r#"{"id":"evt_1","type":"order.imported"}"#,
    }
}

fn attempt(secs: i64, status: Option<i64>, error: Option<&str>) -> OutboundAttempt {
    OutboundAttempt {
        at: t(secs),
        status_code: status,
        error: error.map(str::to_owned),
        duration_ms: 12,
        response_excerpt: status.map(|s| format!("answer {s}")),
    }
}

async fn endpoints_keep_their_url_events_and_sealed_secret(db: Db) {
    let all = vec!["*".to_string()];
    let some = vec!["order.shipped".to_string(), "order.delivered".to_string()];
    db.insert_endpoint(&endpoint("wh_a", &all), t(0))
        .await
        .unwrap();
    db.insert_endpoint(&endpoint("wh_b", &some), t(1))
        .await
        .unwrap();
    // Ids are unique.
    assert!(
        db.insert_endpoint(&endpoint("wh_a", &all), t(2))
            .await
            .is_err()
    );

    let b = db.endpoint("wh_b").await.unwrap().unwrap();
    assert_eq!(b.events, some);
    assert_eq!(b.secret_sealed, "v1.opaque");
    assert_eq!(
        (b.url.as_str(), b.description.as_str(), b.enabled),
        ("https://hooks.example/pressroom", "ERP", true)
    );
    assert_eq!((b.created_at, b.updated_at), (t(1), t(1)));
    let ids: Vec<String> = db
        .endpoints()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, ["wh_a", "wh_b"]);
    let mut tx = db.begin().await.unwrap();
    assert_eq!(db.enabled_endpoints(&mut tx).await.unwrap().len(), 2);
    tx.commit().await.unwrap();
    assert_eq!(db.endpoint("wh_none").await.unwrap(), None);
}

async fn deliveries_commit_with_the_callers_transaction_and_log_every_attempt(db: Db) {
    let all = vec!["*".to_string()];
    db.insert_endpoint(&endpoint("wh_a", &all), t(0))
        .await
        .unwrap();

    // Rolled back with the change that caused it: no delivery.
    let mut tx = db.begin().await.unwrap();
    db.insert_outbound_delivery(&mut tx, &delivery("wh_a"), t(1))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(db.outbound_deliveries("wh_a", 10).await.unwrap().is_empty());

    let mut tx = db.begin().await.unwrap();
    let first = db
        .insert_outbound_delivery(&mut tx, &delivery("wh_a"), t(1))
        .await
        .unwrap();
    let second = db
        .insert_outbound_delivery(&mut tx, &delivery("wh_a"), t(2))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let row = db.outbound_delivery(first).await.unwrap().unwrap();
    assert_eq!(row.state, OutboundState::Queued);
    assert_eq!((row.attempts, row.order_id), (0, Some(7)));
    assert_eq!(row.payload, r#"{"id":"evt_1","type":"order.imported"}"#);

    // Two failures, then a success: three attempts logged in order.
    for (secs, end) in [(10, Some(500)), (20, Some(502))] {
        let mut tx = db.begin().await.unwrap();
        let changed = db
            .record_outbound_attempt(
                &mut tx,
                first,
                &attempt(secs, end, Some("HTTP 5xx")),
                AttemptEnd::Retry(t(secs + 60)),
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(changed);
    }
    let row = db.outbound_delivery(first).await.unwrap().unwrap();
    assert_eq!(
        (
            row.state,
            row.attempts,
            row.last_status_code,
            row.next_attempt_at
        ),
        (OutboundState::Queued, 2, Some(502), Some(t(80)))
    );
    let mut tx = db.begin().await.unwrap();
    assert!(
        db.record_outbound_attempt(
            &mut tx,
            first,
            &attempt(90, Some(200), None),
            AttemptEnd::Delivered
        )
        .await
        .unwrap()
    );
    tx.commit().await.unwrap();
    // A delivered delivery does not change again (a job taken over records nothing).
    let mut tx = db.begin().await.unwrap();
    assert!(
        !db.record_outbound_attempt(
            &mut tx,
            first,
            &attempt(95, None, Some("late")),
            AttemptEnd::Failed
        )
        .await
        .unwrap()
    );
    tx.commit().await.unwrap();
    let row = db.outbound_delivery(first).await.unwrap().unwrap();
    assert_eq!(
        (row.state, row.attempts, row.last_error, row.delivered_at),
        (OutboundState::Delivered, 3, None, Some(t(90)))
    );

    // The second one fails for good.
    let mut tx = db.begin().await.unwrap();
    db.record_outbound_attempt(
        &mut tx,
        second,
        &attempt(30, None, Some("address not allowed")),
        AttemptEnd::Failed,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // The log: newest first, with the attempts of each.
    let log = db.outbound_deliveries("wh_a", 10).await.unwrap();
    assert_eq!(
        log.iter().map(|d| d.id).collect::<Vec<_>>(),
        [second, first]
    );
    assert_eq!(log[0].state, OutboundState::Failed);
    assert_eq!(log[0].last_error.as_deref(), Some("address not allowed"));
    let attempts = db.outbound_attempts(&[first, second]).await.unwrap();
    let summary: Vec<(i64, i64, Option<i64>)> = attempts
        .iter()
        .map(|a| (a.delivery_id, a.attempt, a.outcome.status_code))
        .collect();
    assert_eq!(
        summary,
        [
            (first, 1, Some(500)),
            (first, 2, Some(502)),
            (first, 3, Some(200)),
            (second, 1, None)
        ]
    );
    assert_eq!(attempts[2].outcome, attempt(90, Some(200), None));
    assert_eq!(
        db.count_outbound(OutboundState::Delivered).await.unwrap(),
        1
    );
    assert_eq!(db.count_outbound(OutboundState::Failed).await.unwrap(), 1);
}

async fn removing_an_endpoint_removes_its_deliveries_and_their_log(db: Db) {
    let all = vec!["*".to_string()];
    db.insert_endpoint(&endpoint("wh_a", &all), t(0))
        .await
        .unwrap();
    db.insert_endpoint(&endpoint("wh_b", &all), t(0))
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    let a = db
        .insert_outbound_delivery(&mut tx, &delivery("wh_a"), t(1))
        .await
        .unwrap();
    let b = db
        .insert_outbound_delivery(&mut tx, &delivery("wh_b"), t(1))
        .await
        .unwrap();
    db.record_outbound_attempt(
        &mut tx,
        a,
        &attempt(2, Some(500), Some("HTTP 500")),
        AttemptEnd::Retry(t(60)),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    assert!(db.delete_endpoint("wh_a").await.unwrap());
    assert!(!db.delete_endpoint("wh_a").await.unwrap());
    assert_eq!(db.outbound_delivery(a).await.unwrap(), None);
    assert!(db.outbound_attempts(&[a]).await.unwrap().is_empty());
    // An attempt of a removed delivery (its job was running) records nothing.
    let mut tx = db.begin().await.unwrap();
    assert!(
        !db.record_outbound_attempt(
            &mut tx,
            a,
            &attempt(3, Some(200), None),
            AttemptEnd::Delivered
        )
        .await
        .unwrap()
    );
    tx.commit().await.unwrap();
    // The other endpoint's delivery stays.
    assert!(db.outbound_delivery(b).await.unwrap().is_some());
    let mut tx = db.begin().await.unwrap();
    let enabled = db.enabled_endpoints(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(enabled.len(), 1);
}
