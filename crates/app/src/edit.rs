//! Editing a personalization before submission, and the editor's live preview.
//!
//! - [`App::upload_photo`]: a merchant's photo for an order, checked like a fetched customer
//!   photo (its format from the signature, its size from the header, then decoded once so a
//!   corrupt file is refused before anything is stored), kept as `photos/<sha256>.<ext>`.
//! - [`App::edit_personalization`]: an item's values and photos replaced, checked against the
//!   template's field rules, written with compare-and-set together with an `edited` history
//!   event holding the diff and a render job for the item (a new render version). As often as
//!   wanted until the order is submitted; outside-source orders (Amazon, Others), whose items
//!   arrive without personalization, get their template and values this way.
//! - [`App::preview`]: a template rendered from unsaved values at a preview width, with the
//!   warm template and asset caches, writing nothing; what is wrong with the values is in its
//!   preflight, not an error (that is what an editor shows).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use domain::{Actor, ClientImage, EventKind, HistoryEvent, Order, Personalization, RuleViolation};
use serde::Serialize;
use template::{FieldIssueKind, FieldKind, Manifest, check_values};

use crate::order_write::OrderWrite;
use crate::photo_job::FetchPhoto;
use crate::{App, AppError};

/// Preview widths accepted, in pixels.
pub const PREVIEW_WIDTHS: std::ops::RangeInclusive<u32> = 64..=2000;

/// How many bytes of photos the preview keeps in memory (keys are content hashes, so a kept
/// photo never goes stale).
const PREVIEW_PHOTO_BYTES: usize = 64 * 1024 * 1024;

/// Why an edit or an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The order was handed to a provider (or its outcome is being reviewed).
    #[error("order {number} was submitted; its design is locked and can no longer be edited")]
    Locked { number: String },
    /// An uploaded file that is not a usable photo.
    #[error("photo upload: {0}")]
    Photo(String),
    /// Values or photos that break the template's rules; one line per problem.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    /// No template named, or one that is not installed.
    #[error("{0}")]
    Template(String),
    /// A request that cannot be served as asked (a preview's width).
    #[error("{0}")]
    BadRequest(String),
}

impl EditError {
    pub fn code(&self) -> &'static str {
        match self {
            EditError::Locked { .. } => "design_locked",
            EditError::Photo(_) => "invalid_photo",
            EditError::Invalid(_) => "invalid_personalization",
            EditError::Template(_) => "template",
            EditError::BadRequest(_) => "bad_request",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            EditError::Locked { .. } => 409,
            _ => 422,
        }
    }
}

/// A photo uploaded for an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadedPhoto {
    /// `photos/<sha256>.<ext>`: what an edit names the photo by.
    pub key: String,
    pub sha256: String,
    /// Pixels after EXIF orientation.
    pub width: u32,
    pub height: u32,
}

/// What an edit asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonalizationEdit {
    /// Required when the item has no personalization yet; may change it otherwise.
    pub template_id: Option<String>,
    /// The item's text and choice values, the full set (`None`: keep them). An empty value is
    /// no value.
    pub values: Option<BTreeMap<String, String>>,
    /// Photo field → photo key (uploaded to this order or already on it); `None` removes the
    /// field's photo. Fields not named keep their photo.
    pub photos: BTreeMap<String, Option<String>>,
}

/// One changed field: template, value or photo (photos by key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// A field id, or `template` for the template itself.
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edited {
    pub order_id: i64,
    pub item_id: i64,
    /// False when the edit changed nothing (then nothing was written or queued).
    pub changed: bool,
    pub changes: Vec<FieldChange>,
    /// The render job queued for the new version (none when unchanged, or while another
    /// photo of the item is still being fetched: that job renders it).
    pub job: Option<i64>,
    /// The item's personalization after the edit.
    pub personalization: Personalization,
}

/// A preview request: unsaved values and photos by key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PreviewRequest {
    pub values: BTreeMap<String, String>,
    pub photos: BTreeMap<String, String>,
    pub width: u32,
}

/// A rendered preview.
#[derive(Debug, Clone)]
pub struct Preview {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// What is wrong with the values and photos, as a render's preflight says it.
    pub preflight: renderer::Preflight,
    /// Time spent rendering and encoding (the blocking part).
    pub render_time: Duration,
}

/// Photo bytes by key for the preview, bounded by total size (cleared when full, like the
/// renderer's caches: an editor uses one or two photos at a time).
#[derive(Default)]
pub struct PhotoCache {
    photos: Mutex<HashMap<String, Arc<Vec<u8>>>>,
}

impl PhotoCache {
    fn get(&self, key: &str) -> Option<Arc<Vec<u8>>> {
        self.photos
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    fn insert(&self, key: &str, bytes: Arc<Vec<u8>>) {
        let mut photos = self.photos.lock().unwrap_or_else(|e| e.into_inner());
        let held: usize = photos.values().map(|b| b.len()).sum();
        if held + bytes.len() > PREVIEW_PHOTO_BYTES {
            photos.clear();
        }
        if bytes.len() <= PREVIEW_PHOTO_BYTES {
            photos.insert(key.to_string(), bytes);
        }
    }
}

/// Whether `key` names a stored photo: `photos/<64 hex>.<jpg|png|webp|gif>`. Nothing else in
/// storage (render files, reports) can be named as a photo.
pub fn is_photo_key(key: &str) -> bool {
    let Some(name) = key.strip_prefix("photos/") else {
        return false;
    };
    let Some((hash, ext)) = name.split_once('.') else {
        return false;
    };
    hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && matches!(ext, "jpg" | "png" | "webp" | "gif")
}

/// The SHA-256 a photo key is named by.
fn key_sha256(key: &str) -> Option<String> {
    let name = key.strip_prefix("photos/")?;
    Some(name.split_once('.')?.0.to_string())
}

/// Refuse edits of a locked or closed order, in the editor's words.
fn check_editable(order: &Order) -> Result<(), AppError> {
    order.can_edit().map_err(|v| match v {
        RuleViolation::DesignLocked { number } => EditError::Locked { number }.into(),
        v => AppError::Rule(v),
    })
}

/// The current photo of each field (its key, or its source while it is being fetched).
fn photo_refs(p: &Personalization) -> BTreeMap<String, String> {
    p.client_images
        .iter()
        .map(|c| {
            (
                c.field.clone(),
                c.object_key.clone().unwrap_or_else(|| c.source_url.clone()),
            )
        })
        .collect()
}

/// The changes from `old` to `new`, template first, then fields by name.
fn diff(old: Option<&Personalization>, new: &Personalization) -> Vec<FieldChange> {
    let mut changes = vec![];
    let old_template = old.map(|p| p.template_id.clone());
    if old_template.as_deref() != Some(new.template_id.as_str()) {
        changes.push(FieldChange {
            field: "template".into(),
            from: old_template,
            to: Some(new.template_id.clone()),
        });
    }
    let mut before = old.map(|p| p.values.clone()).unwrap_or_default();
    before.extend(old.map(photo_refs).unwrap_or_default());
    let mut after = new.values.clone();
    after.extend(photo_refs(new));
    let fields: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for field in fields {
        let (from, to) = (before.get(field), after.get(field));
        if from != to {
            changes.push(FieldChange {
                field: field.clone(),
                from: from.cloned(),
                to: to.cloned(),
            });
        }
    }
    changes
}

/// The personalization an edit makes of `old`, checked against the template: every problem
/// is named (field, label, rule), all of them at once.
fn edited_personalization(
    old: Option<&Personalization>,
    template_id: &str,
    manifest: &Manifest,
    edit: &PersonalizationEdit,
    max_text_chars: usize,
) -> Result<Personalization, EditError> {
    let mut p = old.cloned().unwrap_or_default();
    p.template_id = template_id.to_string();
    let is_photo = |id: &str| {
        manifest
            .field(id)
            .is_some_and(|f| f.kind == FieldKind::Photo)
    };
    if let Some(values) = &edit.values {
        // An import keeps a photo field's URL among the values too: that stays, as it is not
        // the merchant's to give here.
        let photo_refs: Vec<(String, String)> = p
            .values
            .iter()
            .filter(|(k, _)| is_photo(k) && !values.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        p.values = values
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        p.values.extend(photo_refs);
    }
    for (field, photo) in &edit.photos {
        let kept = p.client_images.iter().find(|c| {
            c.field == *field && photo.is_some() && c.object_key.as_ref() == photo.as_ref()
        });
        if kept.is_some() {
            // The same photo again: nothing changes.
            continue;
        }
        let replacement = photo.as_ref().map(|key| ClientImage {
            field: field.clone(),
            source_url: format!("upload:{key}"),
            object_key: Some(key.clone()),
            sha256: key_sha256(key),
        });
        // In the place of the field's old photo; the import's copy of its URL among the
        // values goes with it.
        let at = p.client_images.iter().position(|c| c.field == *field);
        p.client_images.retain(|c| c.field != *field);
        p.values.remove(field);
        if let Some(image) = replacement {
            let at = at
                .unwrap_or(p.client_images.len())
                .min(p.client_images.len());
            p.client_images.insert(at, image);
        }
    }

    let mut problems = vec![];
    let label = |id: &str| {
        manifest
            .field(id)
            .map_or_else(|| format!("`{id}`"), |f| format!("`{id}` ({})", f.label))
    };
    for (field, value) in edit.values.iter().flatten() {
        match manifest.field(field) {
            Some(f) if f.kind == FieldKind::Photo => problems.push(format!(
                "field {} is a photo field: give its photo under `photos`, not a value",
                label(field)
            )),
            Some(_) if value.chars().count() > max_text_chars => problems.push(format!(
                "field {}: too_long: {} characters; the renderer takes at most {max_text_chars}",
                label(field),
                value.chars().count()
            )),
            _ => {}
        }
    }
    for c in &p.client_images {
        if let Some(f) = manifest.field(&c.field)
            && f.kind != FieldKind::Photo
        {
            problems.push(format!(
                "field {} is not a photo field; it takes a value",
                label(&c.field)
            ));
        }
    }
    // The values as a render sees them: photos by their reference.
    let mut all = p.values.clone();
    all.extend(photo_refs(&p));
    let (_, issues) = check_values(manifest, &all);
    for issue in issues {
        let field = label(&issue.field);
        problems.push(match issue.kind {
            FieldIssueKind::RequiredMissing => format!("field {field}: required_missing: it is required"),
            FieldIssueKind::TooLong { length, max_length } => format!(
                "field {field}: too_long: {length} characters; at most {max_length} fit the design"
            ),
            FieldIssueKind::NotAllowed { value, allowed } => format!(
                "field {field}: not_allowed: `{value}` is not one of {}",
                allowed.join(", ")
            ),
            FieldIssueKind::UnknownField if p.client_images.iter().any(|c| c.field == issue.field) => format!(
                "field {field}: unknown_field: template {template_id} has no such field (remove its photo with `\"photos\": {{\"{}\": null}}`)",
                issue.field
            ),
            FieldIssueKind::UnknownField => format!(
                "field {field}: unknown_field: template {template_id} has no such field"
            ),
        });
    }
    if problems.is_empty() {
        Ok(p)
    } else {
        Err(EditError::Invalid(problems))
    }
}

impl App {
    /// Check and store a merchant's photo for an order (the HTTP upload, `pressroom order edit
    /// --photo`). Refused with [`EditError::Photo`] naming the format or the problem, before
    /// anything is stored; the upload is noted in the order's history.
    pub async fn upload_photo(
        &self,
        order_id: i64,
        bytes: Bytes,
        actor: &Actor,
    ) -> Result<UploadedPhoto, AppError> {
        let row = self.db.get_order(order_id).await?;
        check_editable(&row.order)?;
        let max = self.settings.fetch.max_bytes;
        if bytes.len() as u64 > max {
            return Err(EditError::Photo(format!(
                "the file is {} bytes; the limit is {max}",
                bytes.len()
            ))
            .into());
        }
        let kind = crate::fetch::sniff_image(&bytes)
            .map_err(|e| EditError::Photo(e.reason() + "; upload a JPEG, PNG, WebP or GIF"))?;
        // Decoded once (header limits, truncation, corrupt data), as a render would: what is
        // stored renders. On the blocking pool: a 12 MP photo takes a tenth of a second.
        let renderer = self.renderer.clone();
        let checked = bytes.clone();
        let (width, height) = tokio::task::spawn_blocking(move || {
            renderer::decode_image(&checked, renderer.limits()).map(|d| (d.width, d.height))
        })
        .await
        .map_err(|e| AppError::Config(format!("photo check failed: {e}")))?
        .map_err(EditError::Photo)?;
        let sha256 = renderer::sha256_hex(&bytes);
        let stored = self
            .files
            .put_hashed("photos", kind.extension(), sha256, bytes)
            .await?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        self.db
            .append_history(
                &mut tx,
                order_id,
                &HistoryEvent {
                    at: now,
                    actor: actor.clone(),
                    kind: EventKind::Note,
                    message: format!(
                        "photo uploaded: {} ({}, {width} x {height})",
                        stored.key,
                        kind.name()
                    ),
                    payload: Some(serde_json::json!({
                        "photo_uploaded": stored.key, "sha256": stored.sha256,
                        "width": width, "height": height,
                    })),
                },
            )
            .await?;
        tx.commit().await?;
        Ok(UploadedPhoto {
            key: stored.key,
            sha256: stored.sha256,
            width,
            height,
        })
    }

    /// Replace an item's personalization (see the module's doc). Refused with 409
    /// (`design_locked`, `order_closed`) once the order was submitted or closed, with 422 when
    /// the values break the template's rules; an edit that changes nothing writes nothing.
    pub async fn edit_personalization(
        &self,
        order_id: i64,
        item_id: i64,
        edit: &PersonalizationEdit,
        actor: &Actor,
    ) -> Result<Edited, AppError> {
        let row = self.db.get_order(order_id).await?;
        check_editable(&row.order)?;
        let item = row.order.item(item_id).ok_or_else(|| {
            AppError::NotFound(format!("order {order_id} has no line item {item_id}"))
        })?;
        if item.quantity == 0 {
            return Err(AppError::InvalidItem {
                item: item_id,
                message: "quantity 0: the line was removed from the order; it cannot be edited"
                    .into(),
            });
        }
        let current = item.personalization.as_ref();
        let template_id = match (&edit.template_id, current) {
            (Some(t), _) => t.clone(),
            (None, Some(p)) => p.template_id.clone(),
            (None, None) => {
                return Err(EditError::Template(format!(
                    "line item {item_id} has no personalization yet: name its template (`template_id`)"
                ))
                .into());
            }
        };
        if !self.templates.exists(&template_id) {
            return Err(
                EditError::Template(format!("template {template_id:?} is not installed")).into(),
            );
        }
        let template = self.templates.get(&self.renderer, &template_id)?;
        let manifest = template.manifest();
        self.check_edit_photos(order_id, &row.order, manifest, edit)
            .await?;

        let max_text_chars = self.renderer.limits().max_text_chars;
        // Filled by the change below when it writes nothing (unchanged, or refused).
        let mut outcome: Option<Result<Personalization, EditError>> = None;
        let write = self
            .write_order(order_id, |order, _now| {
                outcome = None;
                if check_editable(order).is_err() {
                    // Submitted meanwhile: answered below from a fresh read.
                    return None;
                }
                let item = order.items.iter_mut().find(|i| i.id == item_id)?;
                let old = item.personalization.clone();
                match edited_personalization(
                    old.as_ref(),
                    &template_id,
                    manifest,
                    edit,
                    max_text_chars,
                ) {
                    Err(e) => {
                        outcome = Some(Err(e));
                        None
                    }
                    Ok(new) if Some(&new) == old.as_ref() => {
                        outcome = Some(Ok(new));
                        None
                    }
                    Ok(new) => {
                        let changes = diff(old.as_ref(), &new);
                        item.personalization = Some(new.clone());
                        // What the store sent, kept so its later updates leave the edit.
                        order
                            .flags
                            .edited_items
                            .entry(item_id)
                            .or_insert(domain::EditedItem { store: old });
                        let waiting = new.client_images.iter().any(|c| c.object_key.is_none());
                        let renders = item.is_rendered() && !waiting;
                        Some((changes, new, renders))
                    }
                }
            })
            .await?;
        let Some(OrderWrite {
            mut tx,
            now,
            value: (changes, personalization, renders),
            ..
        }) = write
        else {
            return match outcome {
                Some(Ok(personalization)) => Ok(Edited {
                    order_id,
                    item_id,
                    changed: false,
                    changes: vec![],
                    job: None,
                    personalization,
                }),
                Some(Err(e)) => Err(e.into()),
                None => {
                    // Locked, closed or the item gone since the first read.
                    let row = self.db.get_order(order_id).await?;
                    check_editable(&row.order)?;
                    Err(AppError::NotFound(format!(
                        "order {order_id} has no line item {item_id}"
                    )))
                }
            };
        };
        // A photo supplied for a field whose download was pending: the item no longer waits
        // for it.
        for field in edit.photos.keys() {
            let key = FetchPhoto {
                order_id,
                item_id,
                field: field.clone(),
                url: String::new(),
                local_files: None,
            }
            .key();
            self.db.cancel_by_key(&mut tx, &key, now).await?;
        }
        let summary = changes
            .iter()
            .map(|c| {
                format!(
                    "{}: {} → {}",
                    c.field,
                    c.from
                        .as_deref()
                        .map_or("(none)".into(), |v| format!("{v:?}")),
                    c.to.as_deref()
                        .map_or("(none)".into(), |v| format!("{v:?}"))
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        self.db
            .append_history(
                &mut tx,
                order_id,
                &HistoryEvent {
                    at: now,
                    actor: actor.clone(),
                    kind: EventKind::Edited,
                    message: format!("personalization of item {item_id} edited: {summary}"),
                    payload: Some(serde_json::json!({
                        "edit": "personalization",
                        "item_id": item_id,
                        "template_id": personalization.template_id,
                        "changes": changes,
                    })),
                },
            )
            .await?;
        let job = if renders {
            self.enqueue_renders(&mut tx, order_id, &[item_id], actor, now)
                .await?
                .first()
                .copied()
        } else {
            None
        };
        tx.commit().await?;
        tracing::info!(
            order_id,
            item_id,
            changes = changes.len(),
            ?job,
            "personalization edited"
        );
        Ok(Edited {
            order_id,
            item_id,
            changed: true,
            changes,
            job,
            personalization,
        })
    }

    /// The photos an edit names must be stored photos that belong to this order: on one of its
    /// items already, or uploaded to it.
    async fn check_edit_photos(
        &self,
        order_id: i64,
        order: &Order,
        manifest: &Manifest,
        edit: &PersonalizationEdit,
    ) -> Result<(), AppError> {
        let named: Vec<(&String, &String)> = edit
            .photos
            .iter()
            .filter_map(|(f, k)| k.as_ref().map(|k| (f, k)))
            .collect();
        if named.is_empty() {
            return Ok(());
        }
        let mut known: BTreeSet<String> = order
            .items
            .iter()
            .filter_map(|i| i.personalization.as_ref())
            .flat_map(|p| p.client_images.iter().filter_map(|c| c.object_key.clone()))
            .collect();
        if named.iter().any(|(_, k)| !known.contains(*k)) {
            for event in self.db.history(order_id).await? {
                if let Some(key) = event
                    .payload
                    .as_ref()
                    .and_then(|p| p.get("photo_uploaded"))
                    .and_then(|k| k.as_str())
                {
                    known.insert(key.to_string());
                }
            }
        }
        let mut problems = vec![];
        for (field, key) in named {
            if let Some(f) = manifest.field(field)
                && f.kind != FieldKind::Photo
            {
                problems.push(format!(
                    "field `{field}` ({}) is not a photo field; it takes a value",
                    f.label
                ));
            } else if manifest.field(field).is_none() {
                problems.push(format!(
                    "field `{field}`: unknown_field: template {} has no such field",
                    manifest.id
                ));
            } else if !is_photo_key(key) {
                problems.push(format!(
                    "field `{field}`: {key:?} is not a photo key (photos/<sha256>.<ext>, as an upload answers)"
                ));
            } else if !known.contains(key) {
                problems.push(format!(
                    "field `{field}`: photo {key} was not uploaded to order {order_id}; upload it first (POST /api/v1/orders/{order_id}/photos)"
                ));
            } else if !self.files.exists(key).await? {
                problems.push(format!("field `{field}`: photo {key} is not in storage"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(EditError::Invalid(problems).into())
        }
    }

    /// Render a template from unsaved values at `request.width` pixels wide, as a JPEG, with
    /// the warm caches and nothing written. Unknown template: [`AppError::NotFound`]. Values
    /// that break the rules, unknown fields and photos that cannot be found are findings of
    /// the preview's preflight, and the preview renders without them.
    pub async fn preview(
        &self,
        template_id: &str,
        request: &PreviewRequest,
    ) -> Result<Preview, AppError> {
        if !self.templates.exists(template_id) {
            return Err(AppError::NotFound(format!(
                "template {template_id:?} is not installed"
            )));
        }
        if !PREVIEW_WIDTHS.contains(&request.width) {
            return Err(EditError::BadRequest(format!(
                "width {}: a preview is {} to {} pixels wide",
                request.width,
                PREVIEW_WIDTHS.start(),
                PREVIEW_WIDTHS.end()
            ))
            .into());
        }
        let template = self.templates.get(&self.renderer, template_id)?;
        let manifest = template.manifest();
        let mut findings = vec![];
        let mut finding = |code: &'static str, field: &str, message: String| {
            findings.push(renderer::Finding {
                severity: renderer::Severity::Error,
                code,
                layer: None,
                field: Some(field.to_string()),
                message,
                details: serde_json::Value::Null,
            })
        };
        let mut input = renderer::Input::default();
        for (field, value) in &request.values {
            if manifest
                .field(field)
                .is_some_and(|f| f.kind == FieldKind::Photo)
            {
                finding(
                    "photo_as_value",
                    field,
                    format!("`{field}` is a photo field: give its photo key under `photos`"),
                );
            } else {
                input.values.insert(field.clone(), value.clone());
            }
        }
        for (field, key) in &request.photos {
            match manifest.field(field) {
                Some(f) if f.kind == FieldKind::Photo => {}
                _ => {
                    finding(
                        "not_a_photo_field",
                        field,
                        format!("`{field}` is not a photo field of this template"),
                    );
                    continue;
                }
            }
            match self.preview_photo(key).await? {
                Some(bytes) => {
                    input.values.insert(field.clone(), key.clone());
                    input.photos.insert(field.clone(), bytes);
                }
                None => finding(
                    "photo_not_found",
                    field,
                    format!("photo {key:?} is not a stored photo"),
                ),
            }
        }

        let renderer = self.renderer.clone();
        let width = request.width;
        let deadline = Duration::from_secs(self.settings.render_timeout_secs);
        let (jpeg, w, h, mut preflight, render_time) = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let should_stop = || started.elapsed() > deadline;
            let rendered = renderer.render(
                &template,
                &input,
                renderer::Scale::Width(width),
                &should_stop,
            )?;
            let mut jpeg = Vec::with_capacity(256 * 1024);
            let info = rendered.write_preview(rendered.canvas.width(), &mut jpeg)?;
            Ok::<_, renderer::RenderError>((
                jpeg,
                info.width,
                info.height,
                rendered.preflight,
                started.elapsed(),
            ))
        })
        .await
        .map_err(|e| AppError::Config(format!("preview task failed: {e}")))?
        .map_err(|e| match e {
            renderer::RenderError::Stopped => AppError::Stopped("the preview's time bound"),
            e => AppError::Render(e),
        })?;
        findings.append(&mut preflight.findings);
        preflight.findings = findings;
        Ok(Preview {
            jpeg,
            width: w,
            height: h,
            preflight,
            render_time,
        })
    }

    /// A photo's bytes for the preview, from memory when it was used lately; `None` when the
    /// key is not a stored photo.
    async fn preview_photo(&self, key: &str) -> Result<Option<Arc<Vec<u8>>>, AppError> {
        if !is_photo_key(key) {
            return Ok(None);
        }
        if let Some(bytes) = self.preview_photos.get(key) {
            return Ok(Some(bytes));
        }
        let bytes = match self.files.get(key).await {
            Ok(b) => Arc::new(b.to_vec()),
            Err(storage::StorageError::Object(object_store::Error::NotFound { .. })) => {
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        self.preview_photos.insert(key, bytes.clone());
        Ok(Some(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_keys_are_only_content_addressed_photos() {
        let hash = "a".repeat(64);
        assert!(is_photo_key(&format!("photos/{hash}.jpg")));
        assert!(is_photo_key(&format!("photos/{hash}.webp")));
        assert!(!is_photo_key(&format!("photos/{hash}.json")));
        assert!(!is_photo_key(&format!("orders/1/items/2/{hash}.png")));
        assert!(!is_photo_key(&format!("photos/../{hash}.jpg")));
        assert!(!is_photo_key(&format!("photos/{}.jpg", "A".repeat(64))));
        assert!(!is_photo_key("photos/abc.jpg"));
    }

    #[test]
    fn a_diff_names_the_template_values_and_photos_that_changed() {
        let old = Personalization {
            template_id: "a".into(),
            values: [("name".to_string(), "Ann".to_string())].into(),
            client_images: vec![],
        };
        let mut new = old.clone();
        new.template_id = "b".into();
        new.values.insert("name".into(), "Bo".into());
        new.client_images.push(ClientImage {
            field: "photo".into(),
            source_url: "upload:photos/x.jpg".into(),
            object_key: Some("photos/x.jpg".into()),
            sha256: None,
        });
        let changes = diff(Some(&old), &new);
        let fields: Vec<_> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["template", "name", "photo"]);
        assert_eq!(changes[1].from.as_deref(), Some("Ann"));
        assert_eq!(changes[2].to.as_deref(), Some("photos/x.jpg"));
        assert!(diff(Some(&new), &new).is_empty());
        assert_eq!(diff(None, &old)[0].from, None);
    }
}
