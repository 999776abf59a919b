//! The renderer's specification, as tests. Each module is one promise the renderer makes.

mod common;

mod determinism;
mod preflight;
mod print_files;
mod production;
mod reference;
mod text;
mod variants;
