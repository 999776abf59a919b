//! The fuzz targets of `fuzz/` on stable, in CI: their exact bodies (`fuzz/src/lib.rs`, included
//! below) over the seed files and a few thousand deterministic mutations of them (bit flips,
//! truncations, insertions, overwrites, splices), under `catch_unwind`. Any panic fails the test
//! with the seed, the mutation number and a hex prefix of the input to reproduce it.

#[path = "../../../../fuzz/src/lib.rs"]
mod bodies;

use crate::common::{photos_dir, root};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

/// xorshift64*: tiny, deterministic, good enough to pick positions and bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tokens that matter to the parsers: splicing them in gets past the first syntax error more
/// often than random bytes do.
const TOKENS: &[&[u8]] = &[
    b"[[layers]]\n",
    b"[[fields]]\n",
    b"[print_area]\n",
    b" = ",
    b"\"",
    b"#",
    b"{",
    b"}",
    b"[",
    b"]",
    b"-1",
    b"0",
    b"nan",
    b"inf",
    b"1e308",
    b"99999999999999999999",
    b"../",
    b"box_from = \"a#b\"\n",
    b"kind = \"text\"\n",
    b"kind = \"photo\"\n",
    b"field = \"x\"\n",
    b"\xFF\xD8\xFF",
    b"\x89PNG\r\n\x1a\n",
    b"IHDR",
    b"IDAT",
    b"\xFF\xC0\x00\x11\x08",
    b"\xFF\xFF\xFF\xFF",
    b"\x00\x00\x00\x00",
];

/// One mutant of `seed`. Half the edits land in the first 64 bytes, where headers live.
fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = seed.to_vec();
    let edits = 1 + rng.below(4);
    for _ in 0..edits {
        let pos = |rng: &mut Rng, len: usize| {
            if rng.below(2) == 0 {
                rng.below(len.min(64))
            } else {
                rng.below(len)
            }
        };
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = pos(rng, v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let cut = rng.below(v.len());
                v.truncate(cut);
            }
            2 => {
                let i = pos(rng, v.len() + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(i..i, bytes);
            }
            3 if !v.is_empty() => {
                let i = pos(rng, v.len());
                v[i] = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE][rng.below(6)];
            }
            4 => {
                let i = pos(rng, v.len() + 1);
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(i..i, t.iter().copied());
            }
            _ if v.len() > 2 => {
                // Copy a run of the input over another place (duplicated chunks and markers).
                let from = rng.below(v.len());
                let to = pos(rng, v.len());
                let n = (1 + rng.below(32)).min(v.len() - from).min(v.len() - to);
                let run = v[from..from + n].to_vec();
                v[to..to + n].copy_from_slice(&run);
            }
            _ => v.push(rng.next() as u8),
        }
    }
    v
}

struct Tally {
    ok: usize,
    refused: usize,
    panics: Vec<String>,
}

/// Runs `body` over every seed and `per_seed` mutants of each.
fn run(
    seeds: &[(String, Vec<u8>)],
    per_seed: usize,
    body: impl Fn(&[u8]) -> Result<(), String>,
) -> Tally {
    let mut t = Tally {
        ok: 0,
        refused: 0,
        panics: Vec::new(),
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for (name, seed) in seeds {
        for i in 0..=per_seed {
            let input = if i == 0 {
                seed.clone()
            } else {
                mutate(seed, &mut rng)
            };
            match catch_unwind(AssertUnwindSafe(|| body(&input))) {
                Ok(Ok(())) => t.ok += 1,
                Ok(Err(e)) => {
                    assert!(!e.trim().is_empty(), "{name} mutant {i}: empty error");
                    t.refused += 1;
                }
                Err(p) => {
                    let why = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    let head: String = input.iter().take(48).map(|b| format!("{b:02x}")).collect();
                    t.panics.push(format!(
                        "{name} mutant {i} ({} bytes, starts {head}): {why}",
                        input.len()
                    ));
                }
            }
        }
    }
    t
}

fn read_seeds(paths: Vec<PathBuf>) -> Vec<(String, Vec<u8>)> {
    let mut seeds: Vec<(String, Vec<u8>)> = paths
        .into_iter()
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
            )
        })
        .collect();
    seeds.sort();
    seeds
}

#[test]
fn image_target_over_seeds_and_mutations() {
    let paths: Vec<PathBuf> = std::fs::read_dir(photos_dir())
        .expect("fixtures/photos")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "jpg" || e == "png" || e == "gif" || e == "webp")
        })
        .collect();
    let seeds = read_seeds(paths);
    assert!(seeds.len() >= 15, "photo seeds: {}", seeds.len());
    let t = run(&seeds, 200, |d| bodies::image(d).map(|_| ()));
    eprintln!(
        "image: {} seeds, {} decoded, {} refused",
        seeds.len(),
        t.ok,
        t.refused
    );
    assert!(
        t.panics.is_empty(),
        "{} panic(s):\n{}",
        t.panics.len(),
        t.panics.join("\n")
    );
    // Both paths were exercised: mutants that still decode and mutants that are refused.
    assert!(
        t.ok >= 100 && t.refused >= 100,
        "ok {} refused {}",
        t.ok,
        t.refused
    );
}

#[test]
fn manifest_target_over_seeds_and_mutations() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures/templates"))
        .expect("fixtures/templates")
        .map(|e| e.expect("entry").path().join("template.toml"))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    let mut seeds = read_seeds(paths);
    assert!(!seeds.is_empty(), "no template seeds");
    seeds.push((
        "crates/template/tests/manifest/good.toml".into(),
        crate::template_loading::GOOD.as_bytes().to_vec(),
    ));
    let t = run(&seeds, 1500, bodies::manifest);
    eprintln!(
        "manifest: {} seeds, {} parsed, {} refused",
        seeds.len(),
        t.ok,
        t.refused
    );
    assert!(
        t.panics.is_empty(),
        "{} panic(s):\n{}",
        t.panics.len(),
        t.panics.join("\n")
    );
    assert!(
        t.ok >= 50 && t.refused >= 500,
        "ok {} refused {}",
        t.ok,
        t.refused
    );
}

#[test]
fn the_mutator_is_deterministic_and_changes_its_input() {
    let seed = b"id = \"x\"\n[print_area]\nwidth = 1\n".to_vec();
    let (mut a, mut b) = (Rng(7), Rng(7));
    let changed = (0..100)
        .filter(|_| {
            let (x, y) = (mutate(&seed, &mut a), mutate(&seed, &mut b));
            assert_eq!(x, y);
            x != seed
        })
        .count();
    assert!(
        changed >= 90,
        "only {changed} of 100 mutants differ from the seed"
    );
}
