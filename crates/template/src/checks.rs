//! Small checks shared by the manifest's parser: numbers, identifiers, asset paths, text
//! templates. A failure is a key path and a message.

use crate::TextPiece;

pub(crate) type Fail = (String, String);

pub(crate) fn fail<T>(location: impl Into<String>, message: impl Into<String>) -> Result<T, Fail> {
    Err((location.into(), message.into()))
}

/// A relative path inside the template folder: no absolute paths, no `..`, no URLs.
pub(crate) fn check_asset_path(loc: &str, path: &str) -> Result<(), Fail> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.starts_with('\\')
        || path.contains(':')
        || path.split(['/', '\\']).any(|part| part == "..");
    if bad {
        return fail(
            loc,
            format!("`{path}` must be a relative path inside the template folder"),
        );
    }
    Ok(())
}

pub(crate) fn positive(loc: &str, v: f64) -> Result<f64, Fail> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        fail(loc, format!("must be a positive number, got {v}"))
    }
}

pub(crate) fn non_negative(loc: &str, v: f64) -> Result<f64, Fail> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        fail(loc, format!("must be zero or more, got {v}"))
    }
}

pub(crate) fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Parses `Est. {year}` into pieces; `{{` and `}}` are literal braces.
pub(crate) fn parse_text_template(loc: &str, s: &str) -> Result<Vec<TextPiece>, Fail> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                lit.push('}');
            }
            '{' => {
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                if !is_identifier(&name) {
                    return fail(
                        loc,
                        format!(
                            "`{{{name}}}` is not a field reference (write `{{field_id}}`, or `{{{{` for a brace)"
                        ),
                    );
                }
                if !lit.is_empty() {
                    pieces.push(TextPiece::Literal(std::mem::take(&mut lit)));
                }
                pieces.push(TextPiece::Field(name));
            }
            '}' => return fail(loc, "a lone `}` (write `}}` for a brace)"),
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        pieces.push(TextPiece::Literal(lit));
    }
    Ok(pieces)
}
