//! The architecture's rules, checked against the code.
//!
//! `ARCHITECTURE.md` holds a table between `<!-- tidy:rules -->` and `<!-- /tidy:rules -->`: one
//! row per workspace crate, naming the workspace crates it may depend on and whether it may use
//! `unsafe` code. These tests read that table and `cargo metadata`, and fail when
//! - a crate depends (normally or to build) on a workspace crate its row does not allow
//!   (test-only dependencies are free: a test may use any helper);
//! - a workspace crate has no row, or a row names a crate that does not exist;
//! - a crate root (library or binary) of a crate whose unsafe column says `forbidden` lacks
//!   `#![forbid(unsafe_code)]`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Rule {
    may_depend_on: BTreeSet<String>,
    unsafe_forbidden: bool,
}

/// The rules table of ARCHITECTURE.md, by crate name.
fn rules() -> BTreeMap<String, Rule> {
    let doc = std::fs::read_to_string(workspace_root().join("ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md at the workspace root");
    let start = doc
        .find("<!-- tidy:rules -->")
        .expect("ARCHITECTURE.md has a <!-- tidy:rules --> table");
    let end = doc
        .find("<!-- /tidy:rules -->")
        .expect("ARCHITECTURE.md closes the table with <!-- /tidy:rules -->");
    let mut rules = BTreeMap::new();
    for line in doc[start..end].lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        // Rows start with a crate name in backticks; the header and the separator do not.
        let Some(name) = cells.first().and_then(|c| backticked(c).into_iter().next()) else {
            continue;
        };
        assert_eq!(
            cells.len(),
            3,
            "rules row for {name} must have 3 cells: {line}"
        );
        let rule = Rule {
            may_depend_on: backticked(cells[1]).into_iter().collect(),
            unsafe_forbidden: cells[2].starts_with("forbidden"),
        };
        assert!(
            rules.insert(name.clone(), rule).is_none(),
            "two rules rows for {name}"
        );
    }
    assert!(!rules.is_empty(), "the rules table has no rows");
    rules
}

/// The names written in backticks in a table cell.
fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect()
}

struct Package {
    name: String,
    /// Workspace crates it depends on, normally or to build (not dev-dependencies).
    deps: BTreeSet<String>,
    /// Library and binary roots.
    roots: Vec<PathBuf>,
}

fn workspace_packages() -> Vec<Package> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let names: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().expect("name").to_string())
        .collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].as_str() != Some("dev"))
                .map(|d| d["name"].as_str().expect("dep name").to_string())
                .filter(|d| names.contains(d))
                .collect();
            let roots = p["targets"]
                .as_array()
                .expect("targets")
                .iter()
                .filter(|t| {
                    t["kind"]
                        .as_array()
                        .is_some_and(|k| k.iter().any(|k| k == "lib" || k == "bin"))
                })
                .map(|t| PathBuf::from(t["src_path"].as_str().expect("src_path")))
                .collect();
            Package {
                name: p["name"].as_str().expect("name").to_string(),
                deps,
                roots,
            }
        })
        .collect()
}

#[test]
fn every_crate_has_a_rules_row_and_every_row_a_crate() {
    let rules = rules();
    let packages = workspace_packages();
    let names: BTreeSet<&str> = packages.iter().map(|p| p.name.as_str()).collect();
    for p in &packages {
        assert!(
            rules.contains_key(&p.name),
            "crate {} has no row in ARCHITECTURE.md's rules table: say what it may depend on",
            p.name
        );
    }
    for (name, rule) in &rules {
        assert!(
            names.contains(name.as_str()),
            "rules row for unknown crate {name}"
        );
        for dep in &rule.may_depend_on {
            assert!(
                names.contains(dep.as_str()),
                "rules row for {name} allows unknown crate {dep}"
            );
        }
    }
}

#[test]
fn crates_depend_only_on_what_the_architecture_allows() {
    let rules = rules();
    let mut broken = vec![];
    for p in workspace_packages() {
        let Some(rule) = rules.get(&p.name) else {
            continue; // reported by the test above
        };
        for dep in &p.deps {
            if !rule.may_depend_on.contains(dep) {
                broken.push(format!("{} depends on {dep}", p.name));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "dependencies ARCHITECTURE.md does not allow:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn crates_without_unsafe_code_forbid_it_at_their_roots() {
    let rules = rules();
    let mut missing = vec![];
    for p in workspace_packages() {
        if !rules.get(&p.name).is_some_and(|r| r.unsafe_forbidden) {
            continue;
        }
        for root in &p.roots {
            let text = std::fs::read_to_string(root).expect("crate root readable");
            if !text.lines().any(|l| l.trim() == "#![forbid(unsafe_code)]") {
                missing.push(root.display().to_string());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "crate roots without #![forbid(unsafe_code)]:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn the_rules_table_is_read_as_written() {
    // The parser itself: a row's allowed crates are exactly its backticked names.
    assert_eq!(
        backticked("`template`, `encoder` (and nothing that does I/O)"),
        vec!["template".to_string(), "encoder".to_string()]
    );
    assert!(backticked("none").is_empty());
}
