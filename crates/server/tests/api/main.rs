//! The HTTP API as a merchant's integration and a print provider see it, in process: the
//! server crate's router on a listener bound to port 0, with an embedded worker, on the
//! embedded default (an SQLite file and a local files folder in a temporary folder), spoken to
//! over HTTP only. Customers' photos come from a tiny HTTP server in the test on 127.0.0.1,
//! which `app.fetch.allow_hosts` lets through.

mod auth;
mod edit;
mod errors;
mod flow;
mod harness;
mod health;
mod orders;
mod outbound;
mod providers;
mod woocommerce;
