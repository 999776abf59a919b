//! Tests only: `tests/tidy.rs` reads `cargo metadata` and `ARCHITECTURE.md` and fails when the
//! code breaks a rule the architecture document states (a crate depending on one it must not,
//! a crate root without `#![forbid(unsafe_code)]`). The rules live in the document, so changing
//! a rule means changing the document that explains it.
#![forbid(unsafe_code)]
