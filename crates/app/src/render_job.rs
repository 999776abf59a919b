//! One render job: a personalized line item becomes a print file, a preview, a mockup and a
//! preflight report in object storage, then a new render version in the database, recorded in
//! the same transaction that completes the job (so a worker that lost its lease records
//! nothing).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use domain::{Actor, EventKind, HistoryEvent};
use renderer::{ProduceOptions, RenderError};
use storage::{ClaimedJob, NewRender, RenderRow};

use crate::import::RenderJob;
use crate::outbound::OutboundEvent;
use crate::{App, AppError};

/// Files made by a render, stored but not yet recorded.
#[derive(Debug, Clone)]
pub struct RenderOutput {
    pub render: NewRender,
    pub duration: Duration,
}

impl App {
    /// Render the job's item and store its files. `stop` aborts the render (lease lost,
    /// shutdown past its grace period).
    pub async fn render_and_store(
        &self,
        job: &ClaimedJob,
        stop: Arc<AtomicBool>,
    ) -> Result<RenderOutput, AppError> {
        let started = Instant::now();
        let spec: RenderJob = serde_json::from_value(job.payload.clone())
            .map_err(|e| AppError::BadJob(e.to_string()))?;
        let row = self.db.get_order(spec.order_id).await?;
        let item = row
            .order
            .item(spec.item_id)
            .ok_or_else(|| AppError::InvalidItem {
                item: spec.item_id,
                message: format!("order {} has no such line item", spec.order_id),
            })?;
        let p = item
            .personalization
            .as_ref()
            .ok_or_else(|| AppError::InvalidItem {
                item: spec.item_id,
                message: "is not personalized".into(),
            })?;
        let template = self.templates.get(&self.renderer, &p.template_id)?;
        self.record_template(&template).await?;

        let mut input = renderer::Input {
            values: p.values.clone(),
            photos: Default::default(),
        };
        for image in &p.client_images {
            let Some(key) = &image.object_key else {
                continue;
            };
            let bytes = self.files.get(key).await?;
            input.values.insert(image.field.clone(), key.clone());
            input
                .photos
                .insert(image.field.clone(), Arc::new(bytes.to_vec()));
        }

        let renderer = self.renderer.clone();
        let options = ProduceOptions {
            format: self.settings.print_file_format(),
            preview_width: self.settings.preview_width,
            // The findings are recorded with the render; the merchant decides on them.
            allow_preflight_errors: true,
        };
        let deadline = Duration::from_secs(self.settings.render_timeout_secs);
        let template_for_render = template.clone();
        let produced = tokio::task::spawn_blocking(move || {
            let should_stop = || stop.load(Ordering::Relaxed) || started.elapsed() > deadline;
            renderer::produce(
                &renderer,
                &template_for_render,
                &input,
                &options,
                &should_stop,
            )
        })
        .await
        .map_err(|e| AppError::Config(format!("render task failed: {e}")))?
        .map_err(|e| match e {
            RenderError::Stopped => AppError::Stopped("lease lost, shutdown or time bound"),
            e => AppError::Render(e),
        })?;
        let encoded = produced.files.ok_or_else(|| {
            AppError::Config("preflight blocked the files of a render job".into())
        })?;
        let preflight = serde_json::to_value(&produced.preflight).expect("preflight serializes");
        let record = serde_json::to_value(&produced.record).expect("record serializes");

        let prefix = format!("orders/{}/items/{}", spec.order_id, spec.item_id);
        // The four uploads go side by side (they are independent objects; on S3 each is a
        // request of its own). The keys reuse the hashes the renderer computed while encoding.
        let files = &self.files;
        let (print, preview, mockup, report) = tokio::try_join!(
            files.put_hashed(
                &prefix,
                options.format.extension(),
                encoded.print.info.sha256,
                Bytes::from(encoded.print.bytes)
            ),
            files.put_hashed(
                &prefix,
                "jpg",
                encoded.preview.info.sha256,
                Bytes::from(encoded.preview.bytes)
            ),
            async {
                match encoded.mockup {
                    Some(m) => files
                        .put_hashed(&prefix, "jpg", m.info.sha256, Bytes::from(m.bytes))
                        .await
                        .map(Some),
                    None => Ok(None),
                }
            },
            files.put_content(&prefix, "json", Bytes::from(produced.report)),
        )?;
        Ok(RenderOutput {
            render: NewRender {
                order_id: spec.order_id,
                item_id: spec.item_id,
                job_id: Some(job.id),
                template_id: p.template_id.clone(),
                print_key: print.key,
                print_sha256: print.sha256,
                print_size: print.size as i64,
                preview_key: preview.key,
                mockup_key: mockup.map(|m| m.key),
                report_key: report.key,
                preflight_errors: produced.preflight.errors().count() as i64,
                preflight_warnings: produced.preflight.warnings().count() as i64,
                preflight,
                record,
                duration_ms: started.elapsed().as_millis() as i64,
            },
            duration: started.elapsed(),
        })
    }

    /// Complete the job and record the render as the order's next version, atomically. A
    /// stale token (the job was taken over) records nothing.
    pub async fn record_render(
        &self,
        job: &ClaimedJob,
        output: &RenderOutput,
        worker: &str,
    ) -> Result<RenderRow, AppError> {
        let now = self.now();
        let mut tx = self.db.begin().await?;
        self.db.complete(&mut tx, job.id, job.token, now).await?;
        let row = self.db.record_render(&mut tx, &output.render, now).await?;
        let r = &output.render;
        self.db
            .append_history(
                &mut tx,
                r.order_id,
                &HistoryEvent {
                    at: now,
                    actor: Actor::Worker(worker.to_string()),
                    kind: EventKind::Rendered,
                    message: format!(
                        "item {} rendered as version {} in {:.2} s: {} preflight error(s), {} warning(s)",
                        r.item_id,
                        row.version,
                        output.duration.as_secs_f64(),
                        r.preflight_errors,
                        r.preflight_warnings
                    ),
                    payload: Some(serde_json::json!({
                        "render_id": row.id,
                        "version": row.version,
                        "job_id": job.id,
                        "print_key": r.print_key,
                        "print_sha256": r.print_sha256,
                        "preflight_errors": r.preflight_errors,
                        "preflight_warnings": r.preflight_warnings,
                    })),
                },
            )
            .await?;
        // An order whose countdown ran out while this render was pending looks again now.
        let order = self.db.get_order_tx(&mut tx, r.order_id).await?.order;
        self.recheck_countdown(&mut tx, r.order_id, &order, now)
            .await?;
        self.emit(
            &mut tx,
            if r.preflight_errors > 0 {
                OutboundEvent::OrderPreflightFailed
            } else {
                OutboundEvent::OrderRendered
            },
            r.order_id,
            serde_json::json!({
                "item_id": r.item_id,
                "render_id": row.id,
                "version": row.version,
                "template_id": r.template_id,
                "print_sha256": r.print_sha256,
                "preflight": {"errors": r.preflight_errors, "warnings": r.preflight_warnings},
            }),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// A job failed for good: say so in the order's history.
    pub async fn record_render_failure(
        &self,
        job: &ClaimedJob,
        error: &AppError,
        worker: &str,
    ) -> Result<(), AppError> {
        let Some(order_id) = job.order_id else {
            return Ok(());
        };
        let now = self.now();
        let mut tx = self.db.begin().await?;
        self.db
            .append_history(
                &mut tx,
                order_id,
                &HistoryEvent {
                    at: now,
                    actor: Actor::Worker(worker.to_string()),
                    kind: EventKind::RenderFailed,
                    message: format!("render job {} failed: {error}", job.id),
                    payload: Some(serde_json::json!({"job_id": job.id, "code": error.code(), "payload": job.payload})),
                },
            )
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
