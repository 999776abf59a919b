//! Pressroom's order model, free of I/O and of the clock.
//!
//! Everything here is plain data plus the rules that decide what may happen to an order:
//! whether it may be rendered, edited or submitted, and when its automatic submission is due.
//! Time is always passed in (`now: DateTime<Utc>`), so the rules are deterministic and the
//! tests need no fake clock. Storage, HTTP and workers live in other crates and build on this.
#![forbid(unsafe_code)]

pub mod countdown;
pub mod history;
pub mod mapping;
pub mod order;
pub mod shipment;
pub mod status;
pub mod store;
pub mod submission;
pub mod submit;

pub use countdown::*;
pub use history::*;
pub use mapping::*;
pub use order::*;
pub use shipment::*;
pub use status::*;
pub use store::*;
pub use submission::*;
pub use submit::*;

/// Money is exact decimal everywhere; it serializes as a string ("29.35") so no JSON
/// reader ever turns it into a float.
pub use rust_decimal::Decimal;
