//! Personalization values and the rules a manifest sets on them.

use crate::{FieldKind, Manifest};
use serde::Serialize;
use std::collections::BTreeMap;
use unicode_segmentation::UnicodeSegmentation;

/// Field id -> value. Photo fields hold a reference to the photo (a path or an object key).
pub type Values = BTreeMap<String, String>;

/// What is wrong with one field's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldIssueKind {
    /// A required field is empty.
    RequiredMissing,
    /// Longer than `max_length` user-perceived characters.
    TooLong { length: usize, max_length: usize },
    /// Not one of the allowed values.
    NotAllowed { value: String, allowed: Vec<String> },
    /// The value names no declared field.
    UnknownField,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldIssue {
    pub field: String,
    #[serde(flatten)]
    pub kind: FieldIssueKind,
}

/// Fills in defaults and checks values against the manifest's field rules.
/// Returns the values to render with and the issues found (all of them, not just the first).
pub fn check_values(manifest: &Manifest, values: &Values) -> (Values, Vec<FieldIssue>) {
    let mut issues = Vec::new();
    let mut out = Values::new();
    for f in &manifest.fields {
        let given = values.get(&f.id).filter(|v| !v.trim().is_empty());
        let value = given.or(f.default.as_ref());
        let Some(value) = value else {
            if f.required {
                issues.push(FieldIssue {
                    field: f.id.clone(),
                    kind: FieldIssueKind::RequiredMissing,
                });
            }
            continue;
        };
        if f.kind != FieldKind::Photo {
            let length = value.graphemes(true).count();
            if let Some(max_length) = f.max_length
                && length > max_length
            {
                issues.push(FieldIssue {
                    field: f.id.clone(),
                    kind: FieldIssueKind::TooLong { length, max_length },
                });
            }
            if !f.allowed.is_empty() && !f.allowed.contains(value) {
                issues.push(FieldIssue {
                    field: f.id.clone(),
                    kind: FieldIssueKind::NotAllowed {
                        value: value.clone(),
                        allowed: f.allowed.clone(),
                    },
                });
            }
        }
        out.insert(f.id.clone(), value.clone());
    }
    for k in values.keys() {
        if manifest.field(k).is_none() {
            issues.push(FieldIssue {
                field: k.clone(),
                kind: FieldIssueKind::UnknownField,
            });
        }
    }
    (out, issues)
}
