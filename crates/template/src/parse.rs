//! Parsing happens in two steps: TOML into a flat, permissive "raw" shape (so that every key is
//! known and a typo is an error with a line number), then into the typed model, where every rule
//! that spans keys is checked and reported with its key path (`layers[2].mask`).

use crate::checks::{Fail, check_asset_path, fail, is_identifier, non_negative, positive};
use crate::layers::LayerContext;
use crate::raw::RawManifest;
use crate::{Field, FieldKind, Layer, Manifest, ManifestError, Mockup, PrintArea, Rect};

impl Manifest {
    /// Parses and checks a manifest. `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Manifest, ManifestError> {
        // A byte-order mark (Windows editors write one) is not part of the TOML.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            let location = e
                .span()
                .map(|span| {
                    let (line, col) = line_col(text, span.start);
                    format!("line {line}, column {col}")
                })
                .unwrap_or_default();
            ManifestError {
                file: file.to_string(),
                location,
                message: e.message().trim().to_string(),
            }
        })?;
        raw.into_manifest()
            .map_err(|(location, message)| ManifestError {
                file: file.to_string(),
                location,
                message,
            })
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

impl RawManifest {
    pub(crate) fn into_manifest(self) -> Result<Manifest, Fail> {
        if !is_identifier(&self.id) {
            return fail(
                "id",
                format!("`{}` must be 1-64 letters, digits, `-` or `_`", self.id),
            );
        }
        let version = match self.version {
            None => "1".to_string(),
            Some(toml::Value::String(s)) => s,
            Some(toml::Value::Integer(i)) => i.to_string(),
            Some(toml::Value::Float(f)) => f.to_string(),
            Some(_) => return fail("version", "must be a string or a number"),
        };
        let pa = self.print_area;
        let print_area = PrintArea {
            width: positive("print_area.width", pa.width)?,
            height: positive("print_area.height", pa.height)?,
            unit: pa.unit,
            dpi: match pa.dpi {
                None => 300,
                Some(d) if (10..=2400).contains(&d) => d,
                Some(d) => return fail("print_area.dpi", format!("{d} is outside 10..=2400")),
            },
            bleed: non_negative("print_area.bleed", pa.bleed)?,
            safe_margin: non_negative("print_area.safe_margin", pa.safe_margin)?,
            background: pa.background,
        };
        let (cw, ch) = print_area.canvas_px();
        if cw == 0 || ch == 0 || (cw as u64) * (ch as u64) > 400_000_000 {
            return fail(
                "print_area",
                format!("the canvas would be {cw} x {ch} pixels; it must be 1 to 400 megapixels"),
            );
        }

        let mut fields: Vec<Field> = Vec::new();
        for (i, f) in self.fields.into_iter().enumerate() {
            let loc = format!("fields[{i}]");
            if !is_identifier(&f.id) {
                return fail(
                    format!("{loc}.id"),
                    format!("`{}` must be 1-64 letters, digits, `-` or `_`", f.id),
                );
            }
            if fields.iter().any(|g| g.id == f.id) {
                return fail(
                    format!("{loc}.id"),
                    format!("field `{}` is declared twice", f.id),
                );
            }
            if f.kind == FieldKind::Choice && f.allowed.is_empty() {
                return fail(
                    format!("{loc}.allowed"),
                    format!("choice field `{}` needs a list of allowed values", f.id),
                );
            }
            if f.max_length == Some(0) {
                return fail(format!("{loc}.max_length"), "must be at least 1");
            }
            if let Some(d) = &f.default
                && !f.allowed.is_empty()
                && !f.allowed.contains(d)
            {
                return fail(
                    format!("{loc}.default"),
                    format!("`{d}` is not one of the allowed values"),
                );
            }
            fields.push(Field {
                label: f.label.unwrap_or_else(|| f.id.clone()),
                id: f.id,
                kind: f.kind,
                required: f.required,
                max_length: f.max_length,
                allowed: f.allowed,
                default: f.default,
            });
        }
        if self.layers.is_empty() {
            return fail("layers", "a template needs at least one [[layers]] entry");
        }
        let mut layers: Vec<Layer> = Vec::new();
        for (i, l) in self.layers.into_iter().enumerate() {
            let loc = format!("layers[{i}]");
            let id = l.id.clone().unwrap_or_else(|| format!("layer{i}"));
            if !is_identifier(&id) {
                return fail(
                    format!("{loc}.id"),
                    format!("`{id}` must be 1-64 letters, digits, `-` or `_`"),
                );
            }
            if layers.iter().any(|m| m.id == id) {
                return fail(
                    format!("{loc}.id"),
                    format!("layer id `{id}` is used twice"),
                );
            }
            let cx = LayerContext {
                fields: &fields,
                earlier: &layers,
                print_area: &print_area,
            };
            let layer = l.into_layer(&loc, id, &cx)?;
            layers.push(layer);
        }

        let mockup = match self.mockup {
            None => None,
            Some(m) => {
                check_asset_path("mockup.photo", &m.photo)?;
                let [x, y, w, h] = m.rect;
                positive("mockup.box (width)", w)?;
                positive("mockup.box (height)", h)?;
                let opacity = m.opacity.unwrap_or(1.0);
                if !(0.0..=1.0).contains(&opacity) {
                    return fail("mockup.opacity", "must be between 0 and 1");
                }
                Some(Mockup {
                    photo: m.photo,
                    area: Rect::new(x, y, w, h),
                    blend: m.blend,
                    opacity,
                })
            }
        };

        Ok(Manifest {
            name: self.name.unwrap_or_else(|| self.id.clone()),
            id: self.id,
            version,
            print_area,
            fields,
            layers,
            mockup,
        })
    }
}
