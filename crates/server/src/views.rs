//! From stored rows to the API's types. The database document stays inside; what leaves is the
//! contract in the `api` crate.

use app::{App, AppError};
use domain::SubmitStatus;

/// The order with its renders (newest last) with their preflight, download links and provider
/// link, its jobs and its history.
pub async fn order_view(app: &App, id: i64) -> Result<api::OrderView, AppError> {
    let row = app.db.get_order(id).await?;
    let mut renders = vec![];
    for r in app.db.renders(id).await? {
        // What a provider is handed for this print file (signed or public, by configuration).
        let provider_url = app
            .files
            .provider_url(&r.render.print_key, app.now())
            .await
            .ok();
        let link = |f: &str| format!("/api/v1/renders/{}/{f}", r.id);
        let files = api::RenderFiles {
            print: link("print"),
            preview: link("preview"),
            mockup: r.render.mockup_key.as_ref().map(|_| link("mockup")),
            report: link("report"),
        };
        let x = r.render;
        renders.push(api::RenderView {
            id: r.id,
            version: r.version,
            item_id: x.item_id,
            template_id: x.template_id,
            created_at: r.created_at,
            duration_ms: x.duration_ms,
            print_key: x.print_key,
            print_sha256: x.print_sha256,
            print_size: x.print_size,
            preflight_errors: x.preflight_errors,
            preflight_warnings: x.preflight_warnings,
            preflight: x.preflight,
            files,
            provider_url,
        });
    }
    let jobs = app
        .db
        .jobs_for_order(id)
        .await?
        .into_iter()
        .map(|j| api::JobView {
            id: j.id,
            kind: j.kind,
            state: j.state.as_str().to_string(),
            attempts: j.attempts,
            last_error: j.last_error,
        })
        .collect();
    let history = app
        .db
        .history(id)
        .await?
        .into_iter()
        .map(|e| api::HistoryEntry {
            at: e.at,
            actor: e.actor.label(),
            kind: e.kind.as_str().to_string(),
            message: e.message,
            payload: e.payload,
        })
        .collect();
    let writes: Vec<api::StoreWrite> = app
        .db
        .outbox_for_order(id)
        .await?
        .into_iter()
        .map(|w| api::StoreWrite {
            id: w.id,
            kind: w.kind,
            payload: w.payload,
            state: w.state,
            attempts: w.attempts,
            last_error: w.last_error,
            created_at: w.created_at,
            delivered_at: w.delivered_at,
        })
        .collect();
    let pending: Vec<&api::StoreWrite> = writes.iter().filter(|w| w.state == "pending").collect();
    let store_sync = api::StoreSync {
        pending: pending.len(),
        last_error: pending.first().and_then(|w| w.last_error.clone()),
        changed_after_submission: row.order.flags.changed_after_submission,
        deleted_in_store: row.order.flags.deleted_in_store,
        writes,
    };
    Ok(api::OrderView {
        id: row.id,
        store_id: row.store_id,
        row_version: row.row_version,
        created_at: row.created_at,
        updated_at: row.updated_at,
        order: order_detail(row.order),
        renders,
        jobs,
        history,
        store_sync,
    })
}

/// One row of the order list.
pub fn order_summary(row: &storage::OrderRow) -> api::OrderSummary {
    let o = &row.order;
    api::OrderSummary {
        id: row.id,
        number: o.number.clone(),
        status: o.status.raw.clone(),
        status_kind: o.status.kind.as_str().to_string(),
        order_type: o.order_type.as_str().to_string(),
        submit_status: o.submit_status.label().to_string(),
        submit_reason: match &o.submit_status {
            domain::SubmitStatus::Failed { reason, .. }
            | domain::SubmitStatus::Review { reason, .. } => Some(reason.clone()),
            _ => o.submission_blocked.clone(),
        },
        submit_at: o.countdown.submit_at,
        fulfillment: o.fulfillment().as_str().to_string(),
        test: o.test,
        total: o.totals.total,
        currency: o.currency.clone(),
        customer: o.customer.name.clone(),
    }
}

fn order_detail(o: domain::Order) -> api::OrderDetail {
    let fulfillment = o.fulfillment().as_str().to_string();
    api::OrderDetail {
        fulfillment,
        test: o.test,
        submission_blocked: o.submission_blocked.clone(),
        shipments: o
            .shipments
            .iter()
            .map(|s| api::Shipment {
                provider: s.provider.clone(),
                id: s.id.clone(),
                carrier: s.carrier.clone(),
                tracking_numbers: s.tracking_numbers().map(str::to_owned).collect(),
                tracking_url: s.tracking_url.clone(),
                status: s.status.as_str().to_string(),
                items: s
                    .items
                    .iter()
                    .map(|i| (i.line_item_id, i.quantity))
                    .collect(),
                shipped_at: s.shipped_at,
                updated_at: s.updated_at,
            })
            .collect(),
        store_order_id: o.store_order_id,
        number: o.number,
        status: api::Status {
            raw: o.status.raw,
            kind: o.status.kind.as_str().to_string(),
        },
        created_at: o.created_at,
        paid_at: o.paid_at,
        modified_at: o.modified_at,
        customer: api::Customer {
            name: o.customer.name,
            city: o.customer.city,
            state: o.customer.state,
            country: o.customer.country,
            email: o.customer.email,
        },
        billing: address(o.billing),
        shipping: address(o.shipping),
        payment_method: o.payment_method,
        payment_method_title: o.payment_method_title,
        currency: o.currency,
        totals: api::Totals {
            total: o.totals.total,
            subtotal: o.totals.subtotal,
            shipping_total: o.totals.shipping_total,
            tax_total: o.totals.tax_total,
            discount_total: o.totals.discount_total,
        },
        shipping_lines: o
            .shipping_lines
            .into_iter()
            .map(|s| api::ShippingLine {
                method_id: s.method_id,
                method_title: s.method_title,
                total: s.total,
            })
            .collect(),
        items: o.items.into_iter().map(line_item).collect(),
        order_type: o.order_type.as_str().to_string(),
        submit_status: submit_status(&o.submit_status),
        countdown: api::Countdown {
            submit_at: o.countdown.submit_at,
            paused_remaining_secs: o.countdown.paused_remaining_secs,
        },
        notes: o
            .notes
            .into_iter()
            .map(|n| api::Note {
                id: n.id,
                at: n.at,
                author: n.author,
                text: n.text,
                customer_visible: n.customer_visible,
                edited_at: n.edited_at,
            })
            .collect(),
    }
}

fn line_item(i: domain::LineItem) -> api::LineItem {
    let not_rendered = i.not_rendered_reason();
    let waiting_for_photos = match (&i.personalization, i.is_rendered()) {
        (Some(p), true) => p
            .client_images
            .iter()
            .filter(|c| c.object_key.is_none())
            .map(|c| c.field.clone())
            .collect(),
        _ => vec![],
    };
    api::LineItem {
        id: i.id,
        sku: i.sku,
        product_id: i.product_id,
        variation_id: i.variation_id,
        name: i.name,
        quantity: i.quantity,
        price: i.price,
        total: i.total,
        attributes: i
            .attributes
            .into_iter()
            .map(|a| api::Attribute {
                key: a.key,
                value: a.value,
            })
            .collect(),
        personalization: i.personalization.map(personalization),
        not_rendered,
        waiting_for_photos,
    }
}

pub(crate) fn personalization(p: domain::Personalization) -> api::Personalization {
    api::Personalization {
        template_id: p.template_id,
        values: p.values,
        photos: p
            .client_images
            .into_iter()
            .map(|c| api::Photo {
                field: c.field,
                source_url: c.source_url,
                sha256: c.sha256,
                key: c.object_key,
            })
            .collect(),
    }
}

fn address(a: domain::Address) -> api::Address {
    api::Address {
        first_name: a.first_name,
        last_name: a.last_name,
        company: a.company,
        address_1: a.address_1,
        address_2: a.address_2,
        city: a.city,
        state: a.state,
        postcode: a.postcode,
        country: a.country,
        email: a.email,
        phone: a.phone,
    }
}

fn submit_status(s: &SubmitStatus) -> api::SubmitStatus {
    let mut out = api::SubmitStatus {
        state: String::new(),
        label: s.label().to_string(),
        provider: None,
        provider_order_id: None,
        external_id: s.external_id().map(str::to_owned),
        reason: None,
        at: None,
    };
    match s {
        SubmitStatus::Blank => out.state = "blank".into(),
        SubmitStatus::Submitting { provider, at, .. } => {
            out.state = "submitting".into();
            out.provider = Some(provider.clone());
            out.at = Some(*at);
        }
        SubmitStatus::Submitted {
            provider,
            provider_order_id,
            at,
            ..
        } => {
            out.state = "submitted".into();
            out.provider = Some(provider.clone());
            out.provider_order_id = provider_order_id.clone();
            out.at = Some(*at);
        }
        SubmitStatus::Failed { reason, at } => {
            out.state = "failed".into();
            out.reason = Some(reason.clone());
            out.at = Some(*at);
        }
        SubmitStatus::Review {
            reason,
            at,
            provider,
            ..
        } => {
            out.provider = provider.clone();
            out.state = "review".into();
            out.reason = Some(reason.clone());
            out.at = Some(*at);
        }
    }
    out
}
