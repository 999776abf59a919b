//! Edit design (`/orders/{id}/items/{item}/edit`): the template's fields (text inputs, choices
//! as selects, photos replaced by upload) beside a preview image served by
//! `…/preview.jpg?<field>=<value or photo key>…`, which calls the same preview use case as
//! `POST /api/v1/templates/{id}/preview`. Without JavaScript, "Update preview" reloads the page
//! with the typed values (GET); pressroom.js updates the image as the merchant types.
//! "Save design" calls `App::edit_personalization` (which queues a render of the new version)
//! and goes back to the order. A submitted order's design is shown read-only.

use std::collections::BTreeMap;
use std::sync::Arc;

use app::App;
use app::AppError;
use app::edit::{EditError, PersonalizationEdit, PreviewRequest};
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use leptos::prelude::*;
use sha2::Digest as _;
use template::FieldKind;

use crate::form::{Fields, Form};
use crate::session::{self, Flash, Viewer, see_other};
use crate::ui::{self, Chrome, Nav};

/// The preview's width in the editor.
pub const PREVIEW_WIDTH: u32 = 800;

struct Item {
    row: storage::OrderRow,
    item: domain::LineItem,
    personalization: domain::Personalization,
    manifest: template::Manifest,
}

async fn load_item(app: &App, viewer: &Viewer, id: i64, item_id: i64) -> Result<Item, Response> {
    let row = super::order::load(app, viewer, id).await?;
    let nf = || session::not_found(Some(viewer));
    let item = row.order.item(item_id).cloned().ok_or_else(nf)?;
    let personalization = item.personalization.clone().ok_or_else(|| {
        session::error_page(
            Some(viewer),
            &AppError::NotFound(format!(
                "line item {item_id} has no design to edit (it is not personalized)"
            )),
        )
    })?;
    let manifest = app
        .templates
        .get(&app.renderer, &personalization.template_id)
        .map_err(|e| session::error_page(Some(viewer), &e))?
        .manifest()
        .clone();
    Ok(Item {
        row,
        item,
        personalization,
        manifest,
    })
}

/// The values and photos shown: the saved ones, overridden by `<field>=…` in the query or
/// form (a photo field's value is a photo key).
fn current(it: &Item, given: &Fields) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut values = BTreeMap::new();
    let mut photos = BTreeMap::new();
    for f in &it.manifest.fields {
        match f.kind {
            FieldKind::Photo => {
                let saved = it
                    .personalization
                    .client_images
                    .iter()
                    .find(|c| c.field == f.id)
                    .and_then(|c| c.object_key.clone());
                let key = given
                    .opt(&f.id)
                    .filter(|k| app::edit::is_photo_key(k))
                    .map(str::to_owned)
                    .or(saved);
                if let Some(k) = key {
                    photos.insert(f.id.clone(), k);
                }
            }
            _ => {
                let saved = it.personalization.values.get(&f.id).cloned();
                let v = given
                    .opt(&f.id)
                    .map(str::to_owned)
                    .or(saved)
                    .unwrap_or_default();
                values.insert(f.id.clone(), v);
            }
        }
    }
    (values, photos)
}

fn preview_query(values: &BTreeMap<String, String>, photos: &BTreeMap<String, String>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in values.iter().chain(photos) {
        s.append_pair(k, v);
    }
    s.finish()
}

fn field_input(
    f: &template::Field,
    values: &BTreeMap<String, String>,
    photos: &BTreeMap<String, String>,
    errors: &[String],
    locked: bool,
) -> AnyView {
    let id = format!("f-{}", f.id);
    let err_id = format!("f-{}-error", f.id);
    let error = errors
        .iter()
        .find(|e| {
            e.contains(&format!("`{}`", f.id))
                || e.contains(&format!("{}:", f.id))
                || e.contains(&f.id)
        })
        .cloned();
    let invalid = error.as_ref().map(|_| "true");
    let described = error.as_ref().map(|_| err_id.clone());
    let label = if f.required {
        format!("{} (required)", f.label)
    } else {
        f.label.clone()
    };
    let error_view = error.map(|e| view! { <p class="field-error" id=err_id.clone()>{e}</p> });
    let input = match f.kind {
        FieldKind::Photo => {
            let key = photos.get(&f.id).cloned();
            let name = f.id.clone();
            let shown = match &key {
                Some(k) => format!(
                    "Photo stored ({}…); replace it below",
                    k.trim_start_matches("photos/")
                        .chars()
                        .take(10)
                        .collect::<String>()
                ),
                None => "No photo yet; upload one below".into(),
            };
            view! {
                <input type="hidden" name=name value=key.unwrap_or_default() />
                <p class="muted photo-key" id=id.clone()>{shown}</p>
            }
            .into_any()
        }
        FieldKind::Choice if !f.allowed.is_empty() => {
            let chosen = values.get(&f.id).cloned().unwrap_or_default();
            let opts = f
                .allowed
                .iter()
                .map(|a| view! { <option value=a.clone() selected={*a == chosen}>{a.clone()}</option> })
                .collect_view();
            view! {
                <select id=id.clone() name=f.id.clone() disabled=locked aria-invalid=invalid aria-describedby=described.clone()>
                    {(!f.required).then(|| view! { <option value="">"(none)"</option> })}
                    {opts}
                </select>
            }
            .into_any()
        }
        _ => {
            let value = values.get(&f.id).cloned().unwrap_or_default();
            view! {
                <input
                    id=id.clone()
                    name=f.id.clone()
                    type="text"
                    value=value
                    maxlength={f.max_length.map(|m| m.to_string())}
                    required=f.required
                    readonly=locked
                    aria-invalid=invalid
                    aria-describedby=described
                    autocomplete="off"
                />
            }
            .into_any()
        }
    };
    view! {
        <div class="field">
            <label for=id>{label}</label>
            {input}
            {error_view}
        </div>
    }
    .into_any()
}

fn edit_page(
    app: &App,
    viewer: &Viewer,
    it: &Item,
    given: &Fields,
    errors: Vec<String>,
    status: StatusCode,
) -> Response {
    let id = it.row.id;
    let item_id = it.item.id;
    let locked = it.row.order.submit_status.design_locked();
    let (values, photos) = current(it, given);
    let base = format!("/orders/{id}/items/{item_id}");
    let preview_src = format!("{base}/preview.jpg?{}", preview_query(&values, &photos));
    let fields = it
        .manifest
        .fields
        .iter()
        .map(|f| field_input(f, &values, &photos, &errors, locked))
        .collect_view();
    let summary = (!errors.is_empty()).then(|| {
        let list = errors
            .iter()
            .map(|e| view! { <li>{e.clone()}</li> })
            .collect_view();
        view! {
            <div class="banner tone-critical" role="alert" tabindex="-1" data-focus="">
                <p class="strong">"The design was not saved:"</p>
                <ul>{list}</ul>
            </div>
        }
    });
    let banner = locked.then(|| {
        let provider = it.row.order.submit_status.provider().unwrap_or("the provider").to_string();
        view! {
            <div class="banner tone-attention">
                {format!("This order was submitted to {provider}; its design is locked and shown read-only.")}
            </div>
        }
    });
    let photo_forms = (!locked).then(|| {
        it.manifest
            .fields
            .iter()
            .filter(|f| f.kind == FieldKind::Photo)
            .map(|f| {
                let input_id = format!("upload-{}", f.id);
                let label = format!("Replace {}", f.label.to_lowercase());
                let action = format!("{base}/photo");
                view! {
                    <form method="post" action=action enctype="multipart/form-data" class="stack card upload-card">
                        {ui::csrf_field(viewer)}
                        <input type="hidden" name="field" value=f.id.clone() />
                        <div class="field">
                            <label for=input_id.clone()>{label}</label>
                            <input id=input_id type="file" name="file" accept="image/jpeg,image/png,image/webp,image/gif" required=true />
                        </div>
                        <button type="submit">"Upload photo"</button>
                    </form>
                }
            })
            .collect_view()
    });
    let save = (!locked).then(|| {
        view! { <button type="submit" class="primary">"Save design"</button> }
    });
    let edit_url = format!("{base}/edit");
    let edit_url_post = edit_url.clone();
    let back = format!("/orders/{id}");
    let preview_url = format!("{base}/preview.jpg");
    let alt = format!(
        "Preview of {} for order #{}",
        it.item.name, it.row.order.number
    );
    let body = view! {
        {banner}
        {summary}
        <div class="editor">
            <div class="editor-fields">
                <form method="post" action=edit_url_post class="stack card" data-live-preview=preview_url id="design">
                    {ui::csrf_field(viewer)}
                    <p class="muted">{format!("Template: {}", it.manifest.name)}</p>
                    {fields}
                    <div class="row-actions">
                        <button type="submit" formmethod="get" formaction=edit_url>"Update preview"</button>
                        {save}
                        <a href=back.clone()>"Back to order"</a>
                    </div>
                </form>
                {photo_forms}
            </div>
            <div class="editor-preview">
                <figure class="card sticky" data-preview-box="">
                    <img src=preview_src alt=alt data-preview="" data-rev="0" width=PREVIEW_WIDTH.to_string() />
                    <figcaption data-preview-state="" aria-live="polite">"Preview"</figcaption>
                </figure>
            </div>
        </div>
    }
    .into_any();
    let title = format!("Edit design · #{} · {}", it.row.order.number, it.item.name);
    let _ = app;
    viewer.page(
        status,
        ui::document(Chrome::new(title, Some(viewer), Nav::Orders), body),
    )
}

/// `GET /orders/{id}/items/{item}/edit` (also the no-JS "Update preview": values come in the
/// query).
pub async fn show(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path((id, item)): Path<(i64, i64)>,
    uri: Uri,
) -> Response {
    let given = Fields::from_query(uri.query());
    if given.opt("csrf").is_some() {
        // The "Update preview" button sends the whole form: keep the token out of the URL.
        let rest = given.with("csrf", None).to_query();
        return see_other(
            &format!("/orders/{id}/items/{item}/edit?{rest}"),
            None,
            false,
        );
    }
    match load_item(&app, &viewer, id, item).await {
        Ok(it) => edit_page(&app, &viewer, &it, &given, vec![], StatusCode::OK),
        Err(r) => r,
    }
}

/// `GET /orders/{id}/items/{item}/preview.jpg?<field>=…`: the design with
/// unsaved values, from the real renderer. Cached by the input's hash.
pub async fn preview(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path((id, item)): Path<(i64, i64)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let it = match load_item(&app, &viewer, id, item).await {
        Ok(it) => it,
        Err(r) => return r,
    };
    let given = Fields::from_query(uri.query());
    let (values, photos) = current(&it, &given);
    let etag = {
        let mut h = sha2::Sha256::new();
        h.update(it.personalization.template_id.as_bytes());
        h.update(preview_query(&values, &photos).as_bytes());
        h.update(PREVIEW_WIDTH.to_le_bytes());
        format!("\"{}\"", hex::encode(&h.finalize()[..12]))
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let request = PreviewRequest {
        values: values.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
        photos,
        width: PREVIEW_WIDTH,
    };
    match app.preview(&it.personalization.template_id, &request).await {
        Ok(p) => {
            let mut resp = p.jpeg.into_response();
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=300"),
            );
            h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex"));
            let counts = format!(
                "{{\"errors\":{},\"warnings\":{}}}",
                p.preflight.errors().count(),
                p.preflight.warnings().count()
            );
            h.insert(
                server::PREFLIGHT_HEADER,
                HeaderValue::from_str(&counts).expect("ASCII"),
            );
            resp
        }
        Err(e) => {
            let status =
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, e.to_string()).into_response()
        }
    }
}

/// `POST /orders/{id}/items/{item}/edit`: save the design (a new render version).
pub async fn save(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path((id, item)): Path<(i64, i64)>,
    Form(form): Form,
) -> Response {
    if let Err(r) = viewer.check_csrf(&form) {
        return r;
    }
    let it = match load_item(&app, &viewer, id, item).await {
        Ok(it) => it,
        Err(r) => return r,
    };
    let (values, photos) = current(&it, &form);
    let edit = PersonalizationEdit {
        template_id: None,
        values: Some(values),
        photos: photos.into_iter().map(|(k, v)| (k, Some(v))).collect(),
    };
    match app
        .edit_personalization(id, item, &edit, &viewer.actor())
        .await
    {
        Ok(done) if !done.changed => {
            viewer.redirect(&format!("/orders/{id}"), Flash::ok("Design unchanged"))
        }
        Ok(_) => viewer.redirect(
            &format!("/orders/{id}"),
            Flash::ok("Design saved; the new version renders now"),
        ),
        Err(AppError::Edit(EditError::Invalid(errors))) => edit_page(
            &app,
            &viewer,
            &it,
            &form,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => viewer.redirect(
            &format!("/orders/{id}/items/{item}/edit"),
            Flash::err(format!("The design was not saved: {e}")),
        ),
    }
}

/// `POST /orders/{id}/items/{item}/photo` (multipart: `csrf`, `field`, `file`): store the
/// photo, then show it in the editor's preview; "Save design" keeps it.
pub async fn upload(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path((id, item)): Path<(i64, i64)>,
    mut multipart: Multipart,
) -> Response {
    let limit = usize::try_from(app.settings.fetch.max_bytes).unwrap_or(usize::MAX);
    let mut csrf = String::new();
    let mut field = String::new();
    let mut file: Option<bytes::Bytes> = None;
    let edit_url = format!("/orders/{id}/items/{item}/edit");
    loop {
        let part = match multipart.next_field().await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                return viewer.redirect(&edit_url, Flash::err(format!("The upload failed: {e}")));
            }
        };
        match part.name().unwrap_or("") {
            "csrf" => csrf = part.text().await.unwrap_or_default(),
            "field" => field = part.text().await.unwrap_or_default(),
            "file" => {
                let bytes = match part.bytes().await {
                    Ok(b) => b,
                    Err(e) => {
                        return viewer
                            .redirect(&edit_url, Flash::err(format!("The upload failed: {e}")));
                    }
                };
                if bytes.len() > limit {
                    return viewer.redirect(
                        &edit_url,
                        Flash::err(format!("The photo is over the limit of {limit} bytes.")),
                    );
                }
                file = Some(bytes);
            }
            _ => {}
        }
    }
    if let Err(r) = viewer.check_csrf(&Fields(vec![("csrf".into(), csrf)])) {
        return r;
    }
    let it = match load_item(&app, &viewer, id, item).await {
        Ok(it) => it,
        Err(r) => return r,
    };
    if !it
        .manifest
        .fields
        .iter()
        .any(|f| f.id == field && f.kind == FieldKind::Photo)
    {
        return viewer.redirect(
            &edit_url,
            Flash::err("Choose a photo field of this design."),
        );
    }
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return viewer.redirect(&edit_url, Flash::err("Choose a photo to upload."));
    };
    match app.upload_photo(id, bytes, &viewer.actor()).await {
        Ok(photo) => {
            let q = form_urlencoded::Serializer::new(String::new())
                .append_pair(&field, &photo.key)
                .finish();
            viewer.redirect(
                &format!("{edit_url}?{q}"),
                Flash::ok("Photo uploaded; save the design to keep it"),
            )
        }
        Err(e) => viewer.redirect(
            &edit_url,
            Flash::err(format!("The photo was not accepted: {e}")),
        ),
    }
}
