//! The dashboard's query: filters, search, sort and pages, and the counts the database keeps
//! by triggers, which must agree with the orders after every insert, update and delete.

use domain::{OrderType, SubmitStatus};
use storage::dashboard::statuses;
use storage::{Db, OrderQuery, OrderSort};

use crate::common::{order, t};
use crate::on_both_databases;

on_both_databases!(
    counts_follow_every_insert_update_and_delete,
    filters_search_and_sort_find_the_right_orders,
    a_search_counts_up_to_a_thousand,
);

/// Orders in two stores: (store order id, store, status, type, customer).
const ORDERS: [(i64, &str, &str, OrderType, &str); 6] = [
    (1, "shop", "processing", OrderType::InApp, "Anna Kowalski"),
    (2, "shop", "processing", OrderType::Amazon, "Chloé Dupont"),
    (3, "shop", "on-hold", OrderType::InApp, "Dmitri Ivanov"),
    (4, "other", "processing", OrderType::InApp, "Emma Kowalski"),
    (5, "other", "completed", OrderType::Others, "Farah Khan"),
    (6, "shop", "wc-awaiting-proof", OrderType::InApp, "李 小龙"),
];

async fn seed(db: &Db) -> Vec<i64> {
    let mut ids = vec![];
    for (n, store, status, kind, customer) in ORDERS {
        let mut o = order(n, status);
        o.order_type = kind;
        o.customer.name = customer.into();
        o.customer.email = format!("{}@example.com", customer.split(' ').next().unwrap());
        o.countdown.submit_at = (status == "processing").then(|| t(3600 - n * 60));
        // Placed a day apart: 2026-05-29 (order 1) to 2026-06-03 (order 6), UTC.
        o.created_at = Some(t(n * 86_400));
        let mut tx = db.begin().await.unwrap();
        ids.push(db.insert_order(&mut tx, store, &o, t(n)).await.unwrap());
        tx.commit().await.unwrap();
    }
    ids
}

fn query() -> OrderQuery {
    OrderQuery {
        limit: 50,
        ..OrderQuery::default()
    }
}

fn merchant(stores: &[&str]) -> OrderQuery {
    OrderQuery {
        stores: Some(stores.iter().map(|s| s.to_string()).collect()),
        ..query()
    }
}

/// What the dashboard says, checked against counting the orders themselves.
async fn assert_counts_agree(db: &Db, when: &str) {
    let all = db.order_list(&query()).await.unwrap();
    let shop = db.order_list(&merchant(&["shop"])).await.unwrap();
    assert_eq!(all.total, all.orders.len() as i64, "{when}: every order");
    assert_eq!(
        shop.total,
        shop.orders.len() as i64,
        "{when}: shop's orders"
    );
    assert!(shop.orders.iter().all(|o| o.store_id == "shop"), "{when}");
    let mut by_status = std::collections::BTreeMap::new();
    for o in &all.orders {
        *by_status.entry(o.order.status.raw.clone()).or_insert(0i64) += 1;
    }
    let counted: std::collections::BTreeMap<String, i64> =
        statuses(&db.order_counts(None).await.unwrap())
            .into_iter()
            .collect();
    assert_eq!(counted, by_status, "{when}: the status counts");
    for (status, n) in by_status {
        let q = OrderQuery {
            statuses: vec![status.clone()],
            ..query()
        };
        assert_eq!(
            db.order_list(&q).await.unwrap().total,
            n,
            "{when}: {status}"
        );
    }
}

async fn counts_follow_every_insert_update_and_delete(db: Db) {
    assert_eq!(db.order_list(&query()).await.unwrap().total, 0);
    assert!(db.order_counts(None).await.unwrap().is_empty());
    let ids = seed(&db).await;
    assert_counts_agree(&db, "after the import").await;
    assert_eq!(
        statuses(&db.order_counts(Some(&["other".to_string()])).await.unwrap()),
        vec![("completed".to_string(), 1), ("processing".to_string(), 1)],
        "a merchant's status counts are their stores' only"
    );

    // A status change, a submission, and an update that changes none of the counted columns.
    let row = db.get_order(ids[0]).await.unwrap();
    let mut held = row.order.clone();
    held.status = domain::StoreStatus::new("on-hold");
    let mut tx = db.begin().await.unwrap();
    db.update_order(&mut tx, ids[0], row.row_version, &held, t(10))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let row = db.get_order(ids[3]).await.unwrap();
    let mut sent = row.order.clone();
    sent.submit_status = SubmitStatus::Submitted {
        provider: "sandbox".into(),
        provider_order_id: Some("sb-4".into()),
        at: t(11),
        external_id: Some("pr4-1".into()),
    };
    let mut tx = db.begin().await.unwrap();
    db.update_order(&mut tx, ids[3], row.row_version, &sent, t(11))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let row = db.get_order(ids[1]).await.unwrap();
    let mut noted = row.order.clone();
    noted.payment_method = "stripe".into();
    let mut tx = db.begin().await.unwrap();
    db.update_order(&mut tx, ids[1], row.row_version, &noted, t(12))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_counts_agree(&db, "after the updates").await;
    let submitted = OrderQuery {
        submit: vec!["Submitted".into()],
        ..query()
    };
    let page = db.order_list(&submitted).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.orders[0].id, ids[3]);

    // A rolled-back change leaves the counts as they were.
    let row = db.get_order(ids[2]).await.unwrap();
    let mut done = row.order.clone();
    done.status = domain::StoreStatus::new("completed");
    let mut tx = db.begin().await.unwrap();
    db.update_order(&mut tx, ids[2], row.row_version, &done, t(13))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_counts_agree(&db, "after a rollback").await;

    db.execute_raw_for_tests(&format!("DELETE FROM orders WHERE id = {}", ids[4]))
        .await
        .unwrap();
    assert_counts_agree(&db, "after a delete").await;
}

async fn filters_search_and_sort_find_the_right_orders(db: Db) {
    let ids = seed(&db).await;
    let numbers = |page: storage::OrderListPage| -> Vec<String> {
        page.orders.into_iter().map(|o| o.order.number).collect()
    };
    let cases: Vec<(&str, OrderQuery, Vec<&str>)> = vec![
        (
            "everything, newest first",
            query(),
            vec!["6", "5", "4", "3", "2", "1"],
        ),
        (
            "oldest first",
            OrderQuery {
                sort: OrderSort::Oldest,
                ..query()
            },
            vec!["1", "2", "3", "4", "5", "6"],
        ),
        (
            "soonest automatic submission first, then the rest newest first",
            OrderQuery {
                sort: OrderSort::SubmitSoonest,
                ..query()
            },
            vec!["4", "2", "1", "6", "5", "3"],
        ),
        (
            "a merchant's store",
            merchant(&["shop"]),
            vec!["6", "3", "2", "1"],
        ),
        ("a merchant without stores", merchant(&[]), vec![]),
        (
            "status and type combine",
            OrderQuery {
                statuses: vec!["processing".into()],
                order_types: vec!["in_app".into()],
                ..query()
            },
            vec!["4", "1"],
        ),
        (
            "several statuses, a custom one verbatim",
            OrderQuery {
                statuses: vec!["on-hold".into(), "wc-awaiting-proof".into()],
                ..query()
            },
            vec!["6", "3"],
        ),
        (
            "never submitted",
            OrderQuery {
                submit: vec![String::new()],
                ..merchant(&["other"])
            },
            vec!["5", "4"],
        ),
        (
            "a customer's name in any case",
            OrderQuery {
                search: "KOWALSKI".into(),
                ..query()
            },
            vec!["4", "1"],
        ),
        (
            "a name with an accent, and the merchant's scope still holds",
            OrderQuery {
                search: "chloé".into(),
                ..merchant(&["other"])
            },
            vec![],
        ),
        (
            "a name in Chinese",
            OrderQuery {
                search: "小龙".into(),
                ..query()
            },
            vec!["6"],
        ),
        (
            "an email",
            OrderQuery {
                search: "farah@".into(),
                ..query()
            },
            vec!["5"],
        ),
        (
            "an order number with #",
            OrderQuery {
                search: "#3".into(),
                ..query()
            },
            vec!["3"],
        ),
        (
            "placed from 31 May up to (not on) 2 June",
            OrderQuery {
                placed_from: Some("2026-05-31".into()),
                placed_before: Some("2026-06-02".into()),
                ..query()
            },
            vec!["4", "3"],
        ),
        (
            "placed from a day, with a status",
            OrderQuery {
                placed_from: Some("2026-06-01".into()),
                statuses: vec!["processing".into()],
                ..query()
            },
            vec!["4"],
        ),
        (
            "LIKE's wildcards are plain characters",
            OrderQuery {
                search: "%".into(),
                ..query()
            },
            vec![],
        ),
        (
            "the second page",
            OrderQuery {
                limit: 4,
                offset: 4,
                ..query()
            },
            vec!["2", "1"],
        ),
    ];
    for (what, q, want) in cases {
        let page = db.order_list(&q).await.unwrap();
        assert!(!page.total_capped, "{what}");
        if q.offset == 0 {
            assert_eq!(page.total, want.len() as i64, "{what}: total");
        } else {
            assert_eq!(page.total, 6, "{what}: total");
        }
        assert_eq!(numbers(page), want, "{what}");
    }
    let by_id = OrderQuery {
        search: ids[4].to_string(),
        ..query()
    };
    assert!(
        db.order_list(&by_id)
            .await
            .unwrap()
            .orders
            .iter()
            .any(|o| o.id == ids[4]),
        "an order's own id finds it"
    );

    // An update that moves the placing date moves the order between date filters.
    let row = db.get_order(ids[0]).await.unwrap();
    let mut moved = row.order.clone();
    moved.created_at = Some(t(10 * 86_400)); // 2026-06-07
    let mut tx = db.begin().await.unwrap();
    db.update_order(&mut tx, ids[0], row.row_version, &moved, t(20))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let since = OrderQuery {
        placed_from: Some("2026-06-07".into()),
        ..query()
    };
    assert_eq!(numbers(db.order_list(&since).await.unwrap()), ["1"]);
}

async fn a_search_counts_up_to_a_thousand(db: Db) {
    seed(&db).await;
    // 1,200 more orders for one customer, written in one statement.
    db.execute_raw_for_tests(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200) \
         INSERT INTO orders (store_id, store_order_id, number, status, status_kind, order_type, \
         submit_status, data, created_at, updated_at, customer_search) \
         SELECT 'shop', 1000 + i, 'B' || i, 'processing', 'processing', 'in_app', '', \
         (SELECT data FROM orders WHERE store_order_id = 1), i, i, 'bulk buyer' FROM n",
    )
    .await
    .unwrap();
    let q = OrderQuery {
        search: "bulk".into(),
        ..query()
    };
    let page = db.order_list(&q).await.unwrap();
    assert_eq!(page.orders.len(), 50);
    assert_eq!(page.total, storage::dashboard::SEARCH_COUNT_LIMIT);
    assert!(page.total_capped, "the count stops at 1,000");
    let all = db.order_list(&query()).await.unwrap();
    assert_eq!(all.total, 1206, "without a search the count is exact");
    assert!(!all.total_capped);
}
