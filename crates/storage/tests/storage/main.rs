//! The storage specification, run against both databases: every test in `repo` and `queue`
//! runs once on an SQLite file and once on a fresh Postgres database; `files` runs on a local
//! folder and on a real S3 server (s3s-fs) on 127.0.0.1.

mod common;
mod dashboard;
mod files;
mod outbound;
mod queue;
mod repo;
mod stores;
