//! One module per area of the UI; each page is an axum handler that loads through `app::App`
//! and answers HTML (or a redirect after a form).

pub mod edit;
pub mod imports;
pub mod login;
pub mod order;
pub mod orders;
pub mod settings;
pub mod store_rules;
