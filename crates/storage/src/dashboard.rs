//! The orders dashboard's query: one page of orders filtered, searched and sorted, and how many
//! match. Every filter is a column with an index ending in `id`, so the first page of a
//! newest-first list is read from an index, not by sorting the table.

use crate::db::Db;
use crate::error::StorageError;
use crate::repo::OrderRow;

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
    pub sort: OrderSort,
    pub limit: i64,
    pub offset: i64,
}

/// One page and the number of matching orders.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderListPage {
    pub orders: Vec<OrderRow>,
    pub total: i64,
}

/// A WHERE clause with its parameters (all text or integers, bound in order).
enum Param {
    Text(String),
    Int(i64),
}

fn where_clause(q: &OrderQuery) -> (String, Vec<Param>) {
    let mut parts = vec![];
    let mut params = vec![];
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
    any_of("status", &q.statuses, &mut parts);
    any_of("order_type", &q.order_types, &mut parts);
    any_of("submit_status", &q.submit, &mut parts);
    let search = q.search.trim().trim_start_matches('#');
    if !search.is_empty() {
        let n = params.len();
        let like = format!(
            "%{}%",
            search
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let mut alternatives = vec![
            format!("number = ${}", n + 1),
            format!("customer_search LIKE ${} ESCAPE '\\'", n + 2),
        ];
        params.push(Param::Text(search.to_string()));
        params.push(Param::Text(like));
        if let Ok(id) = search.parse::<i64>() {
            alternatives.push(format!("id = ${}", n + 3));
            alternatives.push(format!("store_order_id = ${}", n + 3));
            params.push(Param::Int(id));
        }
        parts.push(format!("({})", alternatives.join(" OR ")));
    }
    if parts.is_empty() {
        (String::new(), params)
    } else {
        (format!(" WHERE {}", parts.join(" AND ")), params)
    }
}

impl Db {
    /// One page of the dashboard.
    pub async fn order_list(&self, q: &OrderQuery) -> Result<OrderListPage, StorageError> {
        let (filter, params) = where_clause(q);
        let order_by = match q.sort {
            OrderSort::Newest => "id DESC",
            OrderSort::Oldest => "id ASC",
            OrderSort::SubmitSoonest => {
                "CASE WHEN submit_at IS NULL THEN 1 ELSE 0 END, submit_at ASC, id DESC"
            }
        };
        let n = params.len();
        let sql = format!(
            "SELECT id, store_id, row_version, data, created_at, updated_at FROM orders{filter} \
             ORDER BY {order_by} LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut query = sqlx::query(&sql);
        for p in &params {
            query = match p {
                Param::Text(s) => query.bind(s.clone()),
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

        let count_sql = format!("SELECT COUNT(*) FROM orders{filter}");
        let mut count = sqlx::query_as::<_, (i64,)>(&count_sql);
        for p in &params {
            count = match p {
                Param::Text(s) => count.bind(s.clone()),
                Param::Int(i) => count.bind(*i),
            };
        }
        let (total,) = count.fetch_one(&self.pool).await?;
        Ok(OrderListPage { orders, total })
    }

    /// The distinct store statuses present (for the status filter), most common first.
    pub async fn order_statuses(
        &self,
        stores: Option<&[String]>,
    ) -> Result<Vec<(String, i64)>, StorageError> {
        let q = OrderQuery {
            stores: stores.map(|s| s.to_vec()),
            ..OrderQuery::default()
        };
        let (filter, params) = where_clause(&q);
        let sql = format!(
            "SELECT status, COUNT(*) AS n FROM orders{filter} GROUP BY status ORDER BY n DESC, status"
        );
        let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
        for p in &params {
            query = match p {
                Param::Text(s) => query.bind(s.clone()),
                Param::Int(i) => query.bind(*i),
            };
        }
        Ok(query.fetch_all(&self.pool).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_filter_is_no_where_clause() {
        let (sql, params) = where_clause(&OrderQuery::default());
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
        let (sql, params) = where_clause(&q);
        assert_eq!(
            sql,
            " WHERE store_id IN ($1, $2) AND status IN ($3) AND order_type IN ($4)"
        );
        assert_eq!(params.len(), 4);
    }

    #[test]
    fn a_merchant_without_stores_sees_nothing() {
        let q = OrderQuery {
            stores: Some(vec![]),
            ..OrderQuery::default()
        };
        assert_eq!(where_clause(&q).0, " WHERE 1 = 0");
    }

    #[test]
    fn a_numeric_search_also_matches_ids_and_like_wildcards_are_escaped() {
        let q = OrderQuery {
            search: "#1042".into(),
            ..OrderQuery::default()
        };
        let (sql, params) = where_clause(&q);
        assert!(
            sql.contains("id = $3") && sql.contains("store_order_id = $3"),
            "{sql}"
        );
        assert_eq!(params.len(), 3);
        let q = OrderQuery {
            search: "50%_off".into(),
            ..OrderQuery::default()
        };
        let (_, params) = where_clause(&q);
        match &params[1] {
            Param::Text(s) => assert_eq!(s, "%50\\%\\_off%"),
            Param::Int(_) => panic!("the LIKE pattern is text"),
        }
    }
}
