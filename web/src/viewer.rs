//! Who is looking at a page: the signed-in [`Viewer`] and the one-time [`Flash`] message a
//! redirect carries. Plain data, so the page frame (`ui`) and the request handling
//! (`session`, which makes a `Viewer` from the cookie) both build on it.

use app::auth::User;

/// The flash cookie's name.
pub const FLASH_COOKIE: &str = "pressroom_flash";

/// A one-time message shown on the page after a redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// False for an error (shown as a critical banner).
    pub ok: bool,
    pub message: String,
}

impl Flash {
    pub fn ok(message: impl Into<String>) -> Flash {
        Flash {
            ok: true,
            message: message.into(),
        }
    }

    pub fn err(message: impl Into<String>) -> Flash {
        Flash {
            ok: false,
            message: message.into(),
        }
    }

    pub(crate) fn encode(&self) -> String {
        let kind = if self.ok { "ok" } else { "err" };
        let text: String = self.message.chars().take(600).collect();
        format!(
            "{kind}.{}",
            form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
        )
    }

    pub fn decode(raw: &str) -> Option<Flash> {
        let (kind, text) = raw.split_once('.')?;
        let message: String = form_urlencoded::parse(format!("m={text}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())?;
        if message.is_empty() {
            return None;
        }
        Some(Flash {
            ok: kind == "ok",
            message,
        })
    }
}

/// The signed-in user of a page or form.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: User,
    /// The session's synchronizer token: every form carries it.
    pub csrf: String,
    /// The session cookie's value (for logout).
    pub token: String,
    /// The flash message that came with this request, if any (cleared by [`Viewer::page`]).
    pub flash: Option<Flash>,
    /// Whether cookies get `Secure`.
    pub secure: bool,
}
