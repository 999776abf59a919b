//! PNG scanline filters for 4-byte pixels (RGBA8) and libpng's adaptive filter choice.

/// Bytes per complete pixel.
pub(crate) const BPP: usize = 4;

pub(crate) const NONE: u8 = 0;
pub(crate) const SUB: u8 = 1;
pub(crate) const UP: u8 = 2;
pub(crate) const AVG: u8 = 3;
pub(crate) const PAETH: u8 = 4;

#[inline(always)]
fn avg(a: u8, b: u8) -> u8 {
    // floor((a + b) / 2) without widening
    (a & b) + ((a ^ b) >> 1)
}

#[cfg(test)]
fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (a16, b16, c16) = (a as i16, b as i16, c as i16);
    let pa = (b16 - c16).abs();
    let pb = (a16 - c16).abs();
    let pc = (a16 + b16 - 2 * c16).abs();
    let ab = if pb < pa { b } else { a };
    let pab = pa.min(pb);
    if pc < pab { c } else { ab }
}

/// libpng's cost of a filtered byte: its distance from zero as a signed byte.
#[inline(always)]
fn cost(v: u8) -> u32 {
    (v as i8).unsigned_abs() as u32
}

#[inline(always)]
fn filter_row_impl(kind: u8, prev: &[u8], cur: &[u8], out: &mut [u8]) {
    let n = cur.len();
    let (prev, out) = (&prev[..n], &mut out[..n]);
    let h = BPP.min(n);
    match kind {
        SUB => {
            out[..h].copy_from_slice(&cur[..h]);
            for ((o, &x), &a) in out[h..].iter_mut().zip(&cur[h..]).zip(&cur[..n - h]) {
                *o = x.wrapping_sub(a);
            }
        }
        UP => {
            for ((o, &x), &b) in out.iter_mut().zip(cur).zip(prev) {
                *o = x.wrapping_sub(b);
            }
        }
        AVG => {
            for i in 0..h {
                out[i] = cur[i].wrapping_sub(prev[i] >> 1);
            }
            for ((o, (&x, &b)), &a) in out[h..]
                .iter_mut()
                .zip(cur[h..].iter().zip(&prev[h..]))
                .zip(&cur[..n - h])
            {
                *o = x.wrapping_sub(avg(a, b));
            }
        }
        PAETH => {
            for i in 0..h {
                out[i] = cur[i].wrapping_sub(prev[i]);
            }
            for (j, o) in out[h..].iter_mut().enumerate() {
                *o = cur[h + j].wrapping_sub(paeth_u8(cur[j], prev[h + j], prev[j]));
            }
        }
        _ => out.copy_from_slice(cur),
    }
}

/// Paeth predictor in byte arithmetic only (vectorises to 32 lanes with AVX2):
/// `pa = |b - c|`, `pb = |a - c|`, `pc = |(b - c) + (a - c)|`, which is `pa + pb` when the two
/// differences have the same sign and `|pa - pb|` otherwise (saturation cannot change the choice).
#[inline(always)]
fn paeth_u8(a: u8, b: u8, c: u8) -> u8 {
    let pa = b.abs_diff(c);
    let pb = a.abs_diff(c);
    let pc = if (b >= c) == (a >= c) {
        pa.saturating_add(pb)
    } else {
        pa.abs_diff(pb)
    };
    let ab = if pb < pa { b } else { a };
    if pc < pa.min(pb) { c } else { ab }
}

/// Sum of costs of 5 filters over one block where every byte has a left neighbour.
#[inline(always)]
fn block_costs(cur: &[u8], left: &[u8], up: &[u8], upleft: &[u8], s: &mut [u32; 5]) {
    let n = cur.len();
    let (left, up, upleft) = (&left[..n], &up[..n], &upleft[..n]);
    let (mut s0, mut s1, mut s2, mut s3, mut s4) = (0u32, 0u32, 0u32, 0u32, 0u32);
    for j in 0..n {
        let (x, a, b, c) = (cur[j], left[j], up[j], upleft[j]);
        s0 += cost(x);
        s1 += cost(x.wrapping_sub(a));
        s2 += cost(x.wrapping_sub(b));
        s3 += cost(x.wrapping_sub(avg(a, b)));
        s4 += cost(x.wrapping_sub(paeth_u8(a, b, c)));
    }
    s[0] += s0;
    s[1] += s1;
    s[2] += s2;
    s[3] += s3;
    s[4] += s4;
}

#[inline(always)]
fn costs_impl(prev: &[u8], cur: &[u8]) -> [u64; 5] {
    let n = cur.len();
    let prev = &prev[..n];
    let h = BPP.min(n);
    let mut s = [0u64; 5];
    for i in 0..h {
        let (x, b) = (cur[i], prev[i]);
        s[0] += cost(x) as u64;
        s[1] += cost(x) as u64;
        s[2] += cost(x.wrapping_sub(b)) as u64;
        s[3] += cost(x.wrapping_sub(b >> 1)) as u64;
        s[4] += cost(x.wrapping_sub(b)) as u64;
    }
    // Blocks small enough that u32 sums cannot overflow.
    let mut i = h;
    while i < n {
        let end = (i + 8192).min(n);
        let mut b = [0u32; 5];
        block_costs(
            &cur[i..end],
            &cur[i - h..end - h],
            &prev[i..end],
            &prev[i - h..end - h],
            &mut b,
        );
        for k in 0..5 {
            s[k] += b[k] as u64;
        }
        i = end;
    }
    s
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::BPP;

    #[inline(always)]
    fn load(s: &[u8]) -> __m256i {
        assert!(s.len() >= 32);
        // SAFETY: 32 readable bytes checked above; unaligned load.
        unsafe { _mm256_loadu_si256(s.as_ptr().cast()) }
    }

    #[inline(always)]
    fn store(d: &mut [u8], v: __m256i) {
        assert!(d.len() >= 32);
        // SAFETY: 32 writable bytes checked above; unaligned store.
        unsafe { _mm256_storeu_si256(d.as_mut_ptr().cast(), v) }
    }

    /// `x <= y` per unsigned byte (all ones where true).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn le(x: __m256i, y: __m256i) -> __m256i {
        _mm256_cmpeq_epi8(_mm256_min_epu8(x, y), x)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn absdiff(x: __m256i, y: __m256i) -> __m256i {
        _mm256_or_si256(_mm256_subs_epu8(x, y), _mm256_subs_epu8(y, x))
    }

    /// floor((a + b) / 2) per byte.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn avg(a: __m256i, b: __m256i) -> __m256i {
        let round_up = _mm256_and_si256(_mm256_xor_si256(a, b), _mm256_set1_epi8(1));
        _mm256_sub_epi8(_mm256_avg_epu8(a, b), round_up)
    }

    /// The Paeth predictor, same byte arithmetic as `paeth_u8`.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn paeth(a: __m256i, b: __m256i, c: __m256i) -> __m256i {
        let pa = absdiff(b, c);
        let pb = absdiff(a, c);
        let b_ge_c = le(c, b);
        let a_ge_c = le(c, a);
        let same = _mm256_cmpeq_epi8(b_ge_c, a_ge_c);
        let pc = _mm256_blendv_epi8(absdiff(pa, pb), _mm256_adds_epu8(pa, pb), same);
        // b where pb < pa, else a
        let ab = _mm256_blendv_epi8(b, a, le(pa, pb));
        let m = _mm256_min_epu8(pa, pb);
        // c where pc < m, else ab
        _mm256_blendv_epi8(c, ab, le(m, pc))
    }

    /// Sum of `|v as i8|` over 32 bytes into four u64 lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn sad(v: __m256i) -> __m256i {
        _mm256_sad_epu8(_mm256_abs_epi8(v), _mm256_setzero_si256())
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn hsum(v: __m256i) -> u64 {
        let mut lanes = [0u64; 4];
        // SAFETY: 32-byte array, unaligned store.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), v) };
        lanes.iter().sum()
    }

    /// Costs over `[BPP, end)` where `end = BPP + 32k <= n`; returns (costs, end).
    #[target_feature(enable = "avx2")]
    pub(super) fn costs(prev: &[u8], cur: &[u8]) -> ([u64; 5], usize) {
        let n = cur.len().min(prev.len());
        let mut acc = [_mm256_setzero_si256(); 5];
        let mut i = BPP;
        while i + 32 <= n {
            let x = load(&cur[i..]);
            let a = load(&cur[i - BPP..]);
            let b = load(&prev[i..]);
            let c = load(&prev[i - BPP..]);
            acc[0] = _mm256_add_epi64(acc[0], sad(x));
            acc[1] = _mm256_add_epi64(acc[1], sad(_mm256_sub_epi8(x, a)));
            acc[2] = _mm256_add_epi64(acc[2], sad(_mm256_sub_epi8(x, b)));
            acc[3] = _mm256_add_epi64(acc[3], sad(_mm256_sub_epi8(x, avg(a, b))));
            acc[4] = _mm256_add_epi64(acc[4], sad(_mm256_sub_epi8(x, paeth(a, b, c))));
            i += 32;
        }
        let mut s = [0u64; 5];
        for k in 0..5 {
            s[k] = hsum(acc[k]);
        }
        (s, i)
    }

    /// Average or Paeth filtering over `[BPP, end)` (see `costs`); returns `end`.
    #[target_feature(enable = "avx2")]
    pub(super) fn filter_avg_paeth(
        paeth_kind: bool,
        prev: &[u8],
        cur: &[u8],
        out: &mut [u8],
    ) -> usize {
        let n = cur.len().min(prev.len()).min(out.len());
        let mut i = BPP;
        while i + 32 <= n {
            let x = load(&cur[i..]);
            let a = load(&cur[i - BPP..]);
            let b = load(&prev[i..]);
            let pred = if paeth_kind {
                paeth(a, b, load(&prev[i - BPP..]))
            } else {
                avg(a, b)
            };
            store(&mut out[i..], _mm256_sub_epi8(x, pred));
            i += 32;
        }
        i
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn costs_avx2(prev: &[u8], cur: &[u8]) -> [u64; 5] {
    let n = cur.len();
    if n < BPP + 32 {
        return costs_impl(prev, cur);
    }
    let prev = &prev[..n];
    let (mut s, end) = avx2::costs(prev, cur);
    // Head (no left neighbour) and tail, scalar.
    for i in (0..BPP).chain(end..n) {
        let (x, b) = (cur[i], prev[i]);
        let (a, c) = if i >= BPP {
            (cur[i - BPP], prev[i - BPP])
        } else {
            (0, 0)
        };
        s[0] += cost(x) as u64;
        s[1] += cost(x.wrapping_sub(a)) as u64;
        s[2] += cost(x.wrapping_sub(b)) as u64;
        s[3] += cost(x.wrapping_sub(avg(a, b))) as u64;
        s[4] += cost(x.wrapping_sub(paeth_u8(a, b, c))) as u64;
    }
    s
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn filter_row_avx2(kind: u8, prev: &[u8], cur: &[u8], out: &mut [u8]) {
    let n = cur.len();
    if (kind == AVG || kind == PAETH) && n >= BPP + 32 {
        let (prev, out) = (&prev[..n], &mut out[..n]);
        let end = avx2::filter_avg_paeth(kind == PAETH, prev, cur, out);
        for i in (0..BPP).chain(end..n) {
            let b = prev[i];
            let (a, c) = if i >= BPP {
                (cur[i - BPP], prev[i - BPP])
            } else {
                (0, 0)
            };
            let pred = if kind == PAETH {
                paeth_u8(a, b, c)
            } else {
                avg(a, b)
            };
            out[i] = cur[i].wrapping_sub(pred);
        }
        return;
    }
    filter_row_impl(kind, prev, cur, out)
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    static CACHE: AtomicU8 = AtomicU8::new(0);
    match CACHE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let yes = std::arch::is_x86_feature_detected!("avx2");
            CACHE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
    }
}

/// Costs of the five filters for one row, as libpng computes them (sum of signed-byte magnitudes).
fn costs(prev: &[u8], cur: &[u8]) -> [u64; 5] {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: AVX2 is available on this CPU.
        return unsafe { costs_avx2(prev, cur) };
    }
    costs_impl(prev, cur)
}

/// Writes `cur` filtered with `kind` against the previous raw row `prev` into `out`.
/// All three slices have the same length.
pub(crate) fn filter_row(kind: u8, prev: &[u8], cur: &[u8], out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: AVX2 is available on this CPU.
        return unsafe { filter_row_avx2(kind, prev, cur, out) };
    }
    filter_row_impl(kind, prev, cur, out)
}

/// Whether every byte is zero (early exit per 64-byte block, vectorised inside a block).
fn is_zero(s: &[u8]) -> bool {
    let (blocks, rest) = s.as_chunks::<64>();
    blocks
        .iter()
        .all(|b| b.iter().fold(0, |acc, &v| acc | v) == 0)
        && rest.iter().all(|&v| v == 0)
}

/// Chooses the filter libpng's heuristic picks (minimum sum of absolute signed bytes, first
/// minimum in the order None, Sub, Up, Average, Paeth) and writes the filter-type byte followed
/// by the filtered row into `out` (`out.len() == cur.len() + 1`).
pub(crate) fn filter_adaptive(prev: &[u8], cur: &[u8], out: &mut [u8]) {
    let (kind_byte, body) = out
        .split_first_mut()
        .expect("out has room for the filter byte");
    // Fast exits for the very common flat areas (fully transparent or uniform rows).
    let kind = if is_zero(cur) {
        NONE
    } else if cur == &prev[..cur.len()] {
        UP
    } else {
        let s = costs(prev, cur);
        let mut best = 0;
        for k in 1..5 {
            if s[k] < s[best] {
                best = k;
            }
        }
        best as u8
    };
    *kind_byte = kind;
    filter_row(kind, prev, cur, body);
}

#[cfg(test)]
pub(crate) fn unfilter_row(kind: u8, prev: &[u8], row: &mut [u8]) {
    let n = row.len();
    for i in 0..n {
        let a = if i >= BPP { row[i - BPP] } else { 0 };
        let b = prev[i];
        let c = if i >= BPP { prev[i - BPP] } else { 0 };
        let pred = match kind {
            NONE => 0,
            SUB => a,
            UP => b,
            AVG => ((a as u16 + b as u16) / 2) as u8,
            PAETH => {
                // Reference predictor straight from the PNG specification.
                let p = a as i16 + b as i16 - c as i16;
                let (pa, pb, pc) = (
                    (p - a as i16).abs(),
                    (p - b as i16).abs(),
                    (p - c as i16).abs(),
                );
                if pa <= pb && pa <= pc {
                    a
                } else if pb <= pc {
                    b
                } else {
                    c
                }
            }
            _ => panic!("bad filter {kind}"),
        };
        row[i] = row[i].wrapping_add(pred);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: &mut u64) -> u8 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed >> 24) as u8
    }

    fn random_row(seed: &mut u64, n: usize, smooth: bool) -> Vec<u8> {
        let mut v: Vec<u8> = Vec::with_capacity(n);
        for i in 0..n {
            let r = rng(seed);
            v.push(if smooth && i >= BPP {
                v[i - BPP].wrapping_add(r % 5)
            } else {
                r
            });
        }
        v
    }

    #[test]
    fn each_filter_reconstructs() {
        let mut seed = 0x1234_5678_9abc_def1;
        for &n in &[1usize, 3, 4, 5, 8, 17, 400, 4099, 9000] {
            for smooth in [false, true] {
                let prev = random_row(&mut seed, n, smooth);
                let cur = random_row(&mut seed, n, smooth);
                for kind in 0..5 {
                    let mut out = vec![0u8; n];
                    filter_row(kind, &prev, &cur, &mut out);
                    unfilter_row(kind, &prev, &mut out);
                    assert_eq!(out, cur, "filter {kind}, n {n}");
                }
                let mut out = vec![0u8; n + 1];
                filter_adaptive(&prev, &cur, &mut out);
                let kind = out[0];
                unfilter_row(kind, &prev, &mut out[1..]);
                assert_eq!(&out[1..], &cur[..]);
            }
        }
    }

    #[test]
    fn simd_costs_match_scalar() {
        let mut seed = 77;
        for n in [4usize, 35, 36, 37, 68, 100, 1000, 18000] {
            for smooth in [false, true] {
                let prev = random_row(&mut seed, n, smooth);
                let cur = random_row(&mut seed, n, smooth);
                assert_eq!(costs(&prev, &cur), costs_impl(&prev, &cur), "n {n}");
                for kind in 0..5 {
                    let mut a = vec![0u8; n];
                    let mut b = vec![1u8; n];
                    filter_row(kind, &prev, &cur, &mut a);
                    filter_row_impl(kind, &prev, &cur, &mut b);
                    assert_eq!(a, b, "kind {kind} n {n}");
                }
            }
        }
    }

    #[test]
    fn fast_paeth_matches_spec_predictor() {
        for a in 0..=255u8 {
            for b in (0..=255u8).step_by(3) {
                for c in (0..=255u8).step_by(5) {
                    let p = a as i16 + b as i16 - c as i16;
                    let (pa, pb, pc) = (
                        (p - a as i16).abs(),
                        (p - b as i16).abs(),
                        (p - c as i16).abs(),
                    );
                    let want = if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    };
                    assert_eq!(paeth(a, b, c), want, "{a} {b} {c}");
                    assert_eq!(paeth_u8(a, b, c), want, "{a} {b} {c}");
                }
            }
        }
    }

    #[test]
    fn adaptive_picks_libpng_minimum() {
        let mut seed = 99;
        for _ in 0..50 {
            let prev = random_row(&mut seed, 64, true);
            let cur = random_row(&mut seed, 64, true);
            let mut best = (u64::MAX, 0);
            for kind in 0..5u8 {
                let mut out = vec![0u8; 64];
                filter_row(kind, &prev, &cur, &mut out);
                let sum: u64 = out.iter().map(|&v| cost(v) as u64).sum();
                if sum < best.0 {
                    best = (sum, kind);
                }
            }
            let mut out = vec![0u8; 65];
            filter_adaptive(&prev, &cur, &mut out);
            assert_eq!(out[0], best.1);
        }
        // Flat rows: a transparent row after anything is None; a repeated row is Up.
        let prev = random_row(&mut seed, 32, false);
        let mut out = vec![9u8; 33];
        filter_adaptive(&prev, &[0; 32], &mut out);
        assert_eq!(out, vec![0; 33]);
        filter_adaptive(&prev, &prev, &mut out);
        assert_eq!(out[0], UP);
        assert!(out[1..].iter().all(|&v| v == 0));
    }
}
