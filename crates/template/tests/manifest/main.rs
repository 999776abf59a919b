//! The manifest's specification, runnable without the renderer:
//!
//! - `broken`: broken manifests, as designers write them, each error naming the file, the place
//!   and the problem.

mod broken;
