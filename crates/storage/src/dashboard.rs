//! The orders dashboard's query: one page of orders filtered, searched and sorted, and how many
//! match. It reads two tables the database keeps by triggers (migration 0010): the narrow
//! `order_filters` rows, scanned newest first until the page is full, and `order_counts`, whose
//! few rows add up to the totals and status counts, so no request counts 100,000 orders.

use crate::db::{Db, Dialect};
use crate::error::StorageError;
use crate::repo::OrderRow;

/// A search counts its matches up to this many; past it the page says "1,000+".
pub const SEARCH_COUNT_LIMIT: i64 = 1000;

/// The sort orders the dashboard offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderSort {
    #[default]
    Newest,
    Oldest,
    /// Soonest automatic submission first; orders without a countdown last.
    SubmitSoonest,
}

impl OrderSort {
    pub fn parse(s: &str) -> Option<OrderSort> {
        match s {
            "newest" | "" => Some(OrderSort::Newest),
            "oldest" => Some(OrderSort::Oldest),
            "submit" => Some(OrderSort::SubmitSoonest),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderSort::Newest => "newest",
            OrderSort::Oldest => "oldest",
            OrderSort::SubmitSoonest => "submit",
        }
    }
}

/// Which orders to list. Empty lists mean "any".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OrderQuery {
    /// Only these stores (a merchant's); `None` for every store (an admin).
    pub stores: Option<Vec<String>>,
    /// An order id, number, or part of a customer's name or email.
    pub search: String,
    /// Store statuses, verbatim.
    pub statuses: Vec<String>,
    /// `in_app`, `amazon`, `shine_on`, `others`.
    pub order_types: Vec<String>,
    /// Submit status labels; "" is "never submitted".
    pub submit: Vec<String>,
    /// Placed on or after this day (`YYYY-MM-DD`, UTC).
    pub placed_from: Option<String>,
    /// Placed before this day (`YYYY-MM-DD`, UTC; the day after the last one shown).
    pub placed_before: Option<String>,
    pub sort: OrderSort,
    pub limit: i64,
    pub offset: i64,
}

/// One page and the number of matching orders.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderListPage {
    pub orders: Vec<OrderRow>,
    /// How many orders match; for a search or dates, at most [`SEARCH_COUNT_LIMIT`].
    pub total: i64,
    /// The search matched more than `total` orders (counting stopped there).
    pub total_capped: bool,
}

/// How many orders have one (status, type, submit status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCount {
    pub status: String,
    pub order_type: String,
    /// The submit status label; "" is never submitted.
    pub submit_status: String,
    pub n: i64,
}

/// The statuses among `counts` with their totals, most common first.
pub fn statuses(counts: &[OrderCount]) -> Vec<(String, i64)> {
    let mut by_status = std::collections::BTreeMap::<&str, i64>::new();
    for c in counts {
        *by_status.entry(c.status.as_str()).or_default() += c.n;
    }
    let mut out: Vec<(String, i64)> = by_status
        .into_iter()
        .map(|(s, n)| (s.to_string(), n))
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// A WHERE clause with its parameters (all text or integers, bound in order).
enum Param {
    Text(String),
    Int(i64),
}

/// The filters as a WHERE clause over `order_filters` (or, without the search, over
/// `order_counts`, which has the same store, status, type and submit columns).
fn where_clause(q: &OrderQuery, dialect: Dialect) -> (String, Vec<Param>) {
    let mut parts = vec![];
    let mut params = vec![];
    // SQLite plans without statistics (nothing ANALYZEs it) and takes any indexed equality
    // as selective: a status filter on a newest-first page would read every order of that
    // status and sort them, where walking the ids newest first stops after one page. `+col`
    // keeps SQLite from using an index for that column; the store's index and, for the
    // submit sort, the status indexes stay usable. Postgres plans from its statistics.
    let unindexed = |column: &'static str| -> String {
        if dialect == Dialect::Sqlite && q.sort != OrderSort::SubmitSoonest {
            format!("+{column}")
        } else {
            column.to_string()
        }
    };
    let mut any_of = |column: &str, values: &[String], parts: &mut Vec<String>| {
        if values.is_empty() {
            return;
        }
        let start = params.len();
        let marks: Vec<String> = (0..values.len())
            .map(|i| format!("${}", start + i + 1))
            .collect();
        params.extend(values.iter().cloned().map(Param::Text));
        parts.push(format!("{column} IN ({})", marks.join(", ")));
    };
    if let Some(stores) = &q.stores {
        if stores.is_empty() {
            parts.push("1 = 0".to_string());
        } else {
            any_of("store_id", stores, &mut parts);
        }
    }
    any_of(&unindexed("status"), &q.statuses, &mut parts);
    any_of(&unindexed("order_type"), &q.order_types, &mut parts);
    any_of(&unindexed("submit_status"), &q.submit, &mut parts);
    // Placing times are RFC 3339 in UTC, so a day compares as text ("2026-12-01" sorts before
    // every time of that day).
    for (value, op) in [(&q.placed_from, ">="), (&q.placed_before, "<")] {
        if let Some(day) = value {
            params.push(Param::Text(day.clone()));
            parts.push(format!("placed_at {op} ${}", params.len()));
        }
    }
    if let Some(search) = search_term(q) {
        let n = params.len();
        params.push(Param::Text(search.to_string()));
        let alternatives = if let Ok(id) = search.parse::<i64>() {
            // Digits are an order: its number, its id here, or its id in the store; each of
            // these is indexed, so the search is a few index look-ups.
            // (A subquery of its own, so the store filter beside it cannot lead the plan
            // into reading every order of the store.)
            params.push(Param::Int(id));
            vec![format!(
                "id IN (SELECT id FROM order_filters WHERE number = ${} OR id = ${} \
                 OR store_order_id = ${})",
                n + 1,
                n + 2,
                n + 2
            )]
        } else {
            // Words are a customer (or a number such as "WC-1042"). The search text is stored
            // lowercased. Postgres finds a substring through its trigram index with LIKE;
            // SQLite's instr() compares bytes, faster than its LIKE, which folds case on
            // every row.
            let needle = search.to_lowercase();
            let customer = match dialect {
                Dialect::Postgres => {
                    params.push(Param::Text(format!(
                        "%{}%",
                        needle
                            .replace('\\', "\\\\")
                            .replace('%', "\\%")
                            .replace('_', "\\_")
                    )));
                    format!("search LIKE ${} ESCAPE '\\'", n + 2)
                }
                Dialect::Sqlite => {
                    params.push(Param::Text(needle));
                    format!("instr(search, ${}) > 0", n + 2)
                }
            };
            vec![format!("number = ${}", n + 1), customer]
        };
        parts.push(format!("({})", alternatives.join(" OR ")));
    }
    if parts.is_empty() {
        (String::new(), params)
    } else {
        (format!(" WHERE {}", parts.join(" AND ")), params)
    }
}

/// The search as typed, without a leading `#`; `None` when there is none.
fn search_term(q: &OrderQuery) -> Option<&str> {
    let search = q.search.trim().trim_start_matches('#').trim();
    (!search.is_empty()).then_some(search)
}

/// Binds the parameters of a [`where_clause`] in order.
fn bind_all<'q, O>(
    mut query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    params: &'q [Param],
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
    for p in params {
        query = match p {
            Param::Text(s) => query.bind(s.as_str()),
            Param::Int(i) => query.bind(*i),
        };
    }
    query
}

impl Db {
    /// One page of the dashboard.
    pub async fn order_list(&self, q: &OrderQuery) -> Result<OrderListPage, StorageError> {
        let (filter, params) = where_clause(q, self.dialect());
        let order_by = |t: &str| match q.sort {
            OrderSort::Newest => format!("{t}id DESC"),
            OrderSort::Oldest => format!("{t}id ASC"),
            // submit_key is submit_at, or the largest number without a countdown: an index
            // order, with those orders last.
            OrderSort::SubmitSoonest => format!("{t}submit_key ASC, {t}id DESC"),
        };
        let n = params.len();
        // The page's ids come from the narrow rows; only those 50 wide rows are read.
        let sql = format!(
            "SELECT o.id, o.store_id, o.row_version, o.data, o.created_at, o.updated_at \
             FROM (SELECT id, submit_key FROM order_filters{filter} ORDER BY {} LIMIT ${} OFFSET ${}) f \
             JOIN orders o ON o.id = f.id ORDER BY {}",
            order_by(""),
            n + 1,
            n + 2,
            order_by("f."),
        );
        let mut query = sqlx::query(&sql);
        for p in &params {
            query = match p {
                Param::Text(s) => query.bind(s.as_str()),
                Param::Int(i) => query.bind(*i),
            };
        }
        let rows = query
            .bind(q.limit.clamp(1, 500))
            .bind(q.offset.max(0))
            .fetch_all(&self.pool)
            .await?;
        let orders = rows
            .iter()
            .map(crate::repo::order_from_row)
            .collect::<Result<Vec<_>, _>>()?;

        // The kept counts know stores, statuses, types and submit states; a search or a date
        // range is counted on the narrow rows, up to a limit.
        let scan = search_term(q).is_some() || q.placed_from.is_some() || q.placed_before.is_some();
        let (total, total_capped) = if scan {
            let sql = format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM order_filters{filter} LIMIT {}) m",
                SEARCH_COUNT_LIMIT + 1
            );
            let (count,) = bind_all(sqlx::query_as::<_, (i64,)>(&sql), &params)
                .fetch_one(&self.pool)
                .await?;
            (count.min(SEARCH_COUNT_LIMIT), count > SEARCH_COUNT_LIMIT)
        } else {
            let sql =
                format!("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM order_counts{filter}");
            let (count,) = bind_all(sqlx::query_as::<_, (i64,)>(&sql), &params)
                .fetch_one(&self.pool)
                .await?;
            (count, false)
        };
        Ok(OrderListPage {
            orders,
            total,
            total_capped,
        })
    }

    /// How many orders each (status, type, submit status) has in these stores (`None`: all),
    /// from the kept counts: the dashboard's status filter and its tabs add these up.
    pub async fn order_counts(
        &self,
        stores: Option<&[String]>,
    ) -> Result<Vec<OrderCount>, StorageError> {
        let q = OrderQuery {
            stores: stores.map(|s| s.to_vec()),
            ..OrderQuery::default()
        };
        let (filter, params) = where_clause(&q, self.dialect());
        let sql = format!(
            "SELECT status, order_type, submit_status, CAST(SUM(n) AS BIGINT) FROM order_counts\
             {filter} GROUP BY status, order_type, submit_status HAVING SUM(n) > 0"
        );
        let rows = bind_all(
            sqlx::query_as::<_, (String, String, String, i64)>(&sql),
            &params,
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(status, order_type, submit_status, n)| OrderCount {
                status,
                order_type,
                submit_status,
                n,
            })
            .collect())
    }

    /// The newest render of each of these orders, as (order id, render id).
    pub async fn latest_renders(&self, order_ids: &[i64]) -> Result<Vec<(i64, i64)>, StorageError> {
        if order_ids.is_empty() {
            return Ok(vec![]);
        }
        let marks: Vec<String> = (1..=order_ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT order_id, MAX(id) FROM renders WHERE order_id IN ({}) GROUP BY order_id",
            marks.join(", ")
        );
        let mut query = sqlx::query_as::<_, (i64, i64)>(&sql);
        for id in order_ids {
            query = query.bind(*id);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_filter_is_no_where_clause() {
        let (sql, params) = where_clause(&OrderQuery::default(), Dialect::Sqlite);
        assert_eq!(sql, "");
        assert!(params.is_empty());
    }

    #[test]
    fn filters_combine_with_and_and_values_with_in() {
        let q = OrderQuery {
            stores: Some(vec!["a".into(), "b".into()]),
            statuses: vec!["processing".into()],
            order_types: vec!["in_app".into()],
            ..OrderQuery::default()
        };
        let (sql, params) = where_clause(&q, Dialect::Sqlite);
        assert_eq!(
            sql,
            " WHERE store_id IN ($1, $2) AND +status IN ($3) AND +order_type IN ($4)"
        );
        assert_eq!(params.len(), 4);
    }

    #[test]
    fn a_merchant_without_stores_sees_nothing() {
        let q = OrderQuery {
            stores: Some(vec![]),
            ..OrderQuery::default()
        };
        assert_eq!(where_clause(&q, Dialect::Sqlite).0, " WHERE 1 = 0");
    }

    #[test]
    fn a_numeric_search_matches_orders_by_id_and_postgres_like_wildcards_are_escaped() {
        let q = OrderQuery {
            search: "#1042".into(),
            ..OrderQuery::default()
        };
        let (sql, params) = where_clause(&q, Dialect::Sqlite);
        assert_eq!(
            sql,
            " WHERE (id IN (SELECT id FROM order_filters WHERE number = $1 OR id = $2 \
             OR store_order_id = $2))",
            "digits look for an order, not a customer"
        );
        assert_eq!(params.len(), 2);
        let q = OrderQuery {
            search: "50%_off".into(),
            ..OrderQuery::default()
        };
        let (_, params) = where_clause(&q, Dialect::Postgres);
        match &params[1] {
            Param::Text(s) => assert_eq!(s, "%50\\%\\_off%"),
            Param::Int(_) => panic!("the LIKE pattern is text"),
        }
    }
}
