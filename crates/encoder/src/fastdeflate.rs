//! A very fast raw-deflate encoder for PNG-filtered data (the `Fast` PNG setting).
//!
//! Like fdeflate, it only codes literals and runs of zero bytes (a literal 0 followed by
//! distance-1 matches), which is where most of the redundancy of filtered image rows is, but it
//! builds an optimal (length-limited) Huffman code for each piece from its own histogram, and
//! each piece is self-contained and byte-aligned, so pieces are encoded in parallel and simply
//! concatenated. Every piece is one dynamic-Huffman block; a non-final piece ends with an empty
//! stored block (a sync flush) so the next one starts on a byte boundary.

/// Zero runs at least this long become matches (shorter ones stay literals).
const MIN_RUN: usize = 8;

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];

/// For match length `l` (3..=258) at index `l - 3`: `(symbol - 257)`.
static LEN_CODE: [u8; 256] = build_len_code();

const fn build_len_code() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut code = 0;
    let mut l = 3;
    while l <= 258 {
        while code + 1 < 29 && LEN_BASE[code + 1] as usize <= l {
            code += 1;
        }
        t[l - 3] = code as u8;
        l += 1;
    }
    t
}

/// Order in which code-length code lengths are stored (RFC 1951, 3.2.7).
const CL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

const MAX_BITS: u8 = 15;
const MAX_CL_BITS: u8 = 7;
const EOB: usize = 256;

/// Number of zero bytes starting at `i`.
#[inline(always)]
fn zero_run(data: &[u8], i: usize) -> usize {
    let n = data.len();
    let mut j = i;
    while j + 8 <= n {
        let w = u64::from_le_bytes(data[j..j + 8].try_into().expect("8 bytes"));
        if w != 0 {
            return j + (w.trailing_zeros() / 8) as usize - i;
        }
        j += 8;
    }
    while j < n && data[j] == 0 {
        j += 1;
    }
    j - i
}

trait Sink {
    fn lit(&mut self, b: u8);
    fn lits8(&mut self, b: [u8; 8]);
    /// A match of `len` (3..=258) at distance 1.
    fn match1(&mut self, len: usize);
}

/// The token stream both passes (histogram and encoding) see: identical by construction.
/// Works on 8-byte words: a zero run of `MIN_RUN` (= 8) or more either fills a whole word or
/// starts in the zero tail of a word, so nothing else needs a byte-wise look.
#[inline(always)]
fn tokenize<S: Sink>(data: &[u8], s: &mut S) {
    const _: () = assert!(MIN_RUN == 8);
    let n = data.len();
    let mut i = 0;
    while i + 8 <= n {
        let w = u64::from_le_bytes(data[i..i + 8].try_into().expect("8 bytes"));
        let head = if w == 0 {
            0
        } else {
            let tail = (w.leading_zeros() / 8) as usize;
            if tail == 0 || tail + zero_run(data, i + 8) < MIN_RUN {
                s.lits8(w.to_le_bytes());
                i += 8;
                continue;
            }
            8 - tail
        };
        for &b in &data[i..i + head] {
            s.lit(b);
        }
        i += head;
        let r = zero_run(data, i);
        s.lit(0);
        let mut m = r - 1;
        while m >= 3 {
            let mut l = m.min(258);
            if (1..3).contains(&(m - l)) {
                l = m - 3; // leave a codable remainder (m > 258 here, so l >= 256)
            }
            s.match1(l);
            m -= l;
        }
        for _ in 0..m {
            s.lit(0);
        }
        i += r;
    }
    for &b in &data[i..] {
        s.lit(b);
    }
}

struct Histogram {
    lit: [u32; 286],
    /// Four interleaved literal tables: fewer store-to-load stalls on repeated bytes.
    lit4: [[u32; 256]; 4],
}

impl Sink for Histogram {
    #[inline(always)]
    fn lit(&mut self, b: u8) {
        self.lit[b as usize] += 1;
    }
    #[inline(always)]
    fn lits8(&mut self, b: [u8; 8]) {
        for (k, &v) in b.iter().enumerate() {
            self.lit4[k & 3][v as usize] += 1;
        }
    }
    #[inline(always)]
    fn match1(&mut self, len: usize) {
        self.lit[257 + LEN_CODE[len - 3] as usize] += 1;
    }
}

/// LSB-first bit writer. `buf` is kept at least 8 bytes longer than `pos` so every flush is one
/// unconditional 8-byte store.
struct Bits {
    buf: Vec<u8>,
    pos: usize,
    acc: u64,
    n: u32,
}

impl Bits {
    fn with_capacity(cap: usize) -> Self {
        Bits {
            buf: vec![0; cap.max(64)],
            pos: 0,
            acc: 0,
            n: 0,
        }
    }

    /// Writes `n <= 56` bits (`bits` has no bits above `n`), leaving fewer than 8 pending.
    #[inline(always)]
    fn write(&mut self, bits: u64, n: u32) {
        self.acc |= bits << self.n;
        self.n += n;
        if self.pos + 8 > self.buf.len() {
            self.grow();
        }
        self.buf[self.pos..self.pos + 8].copy_from_slice(&self.acc.to_le_bytes());
        let bytes = self.n / 8; // <= 7
        self.pos += bytes as usize;
        self.acc >>= bytes * 8;
        self.n -= bytes * 8;
    }

    #[cold]
    fn grow(&mut self) {
        let len = self.buf.len();
        self.buf.resize(len * 2, 0);
    }

    /// Pads to a byte boundary and returns the bytes written.
    fn finish(mut self, tail: &[u8]) -> Vec<u8> {
        if self.n > 0 {
            self.write(0, 8 - self.n);
        }
        self.buf.truncate(self.pos);
        self.buf.extend_from_slice(tail);
        self.buf
    }
}

struct Encoder<'a> {
    bits: &'a mut Bits,
    /// Bit-reversed canonical code | length << 16, for the literal/length alphabet.
    table: [u32; 286],
}

impl Sink for Encoder<'_> {
    #[inline(always)]
    fn lit(&mut self, b: u8) {
        let e = self.table[b as usize];
        self.bits.write((e & 0xFFFF) as u64, e >> 16);
    }
    #[inline(always)]
    fn lits8(&mut self, b: [u8; 8]) {
        for half in [&b[..4], &b[4..]] {
            let mut acc = 0u64;
            let mut n = 0u32;
            for &v in half {
                let e = self.table[v as usize];
                acc |= ((e & 0xFFFF) as u64) << n;
                n += e >> 16;
            }
            if n <= 56 {
                self.bits.write(acc, n);
            } else {
                for &v in half {
                    self.lit(v);
                }
            }
        }
    }
    #[inline(always)]
    fn match1(&mut self, len: usize) {
        let c = LEN_CODE[len - 3] as usize;
        let sym = 257 + c;
        let extra = (len - LEN_BASE[c] as usize) as u64;
        let e = self.table[sym];
        let mut acc = (e & 0xFFFF) as u64;
        let mut n = e >> 16;
        acc |= extra << n;
        n += LEN_EXTRA[c] as u32;
        // distance code 0 (distance 1): the 1-bit code `0`
        n += 1;
        self.bits.write(acc, n);
    }
}

/// Huffman code lengths (at most `max_bits`) for `freqs`. Deterministic: ties are broken by
/// symbol index. At least two symbols get a length when any is used, so the code is complete.
pub(crate) fn code_lengths(freqs: &[u32], max_bits: u8) -> Vec<u8> {
    let n = freqs.len();
    let mut lens = vec![0u8; n];
    // Symbols sorted by (frequency, index).
    let mut syms: Vec<usize> = (0..n).filter(|&s| freqs[s] > 0).collect();
    if syms.is_empty() {
        return lens;
    }
    if syms.len() == 1 {
        let other = if syms[0] == 0 { 1 } else { 0 };
        lens[syms[0]] = 1;
        lens[other] = 1;
        return lens;
    }
    syms.sort_by_key(|&s| (freqs[s], s));
    let m = syms.len();
    // Two-queue Huffman construction: leaves in sorted order, internal nodes created in
    // non-decreasing weight order.
    let mut weight: Vec<u64> = syms.iter().map(|&s| freqs[s] as u64).collect();
    let mut parent = vec![usize::MAX; 2 * m - 1];
    let (mut leaf, mut node) = (0usize, m);
    for next in m..2 * m - 1 {
        let pick = |leaf: &mut usize, node: &mut usize, weight: &[u64]| -> usize {
            if *leaf < m && (*node >= next || weight[*leaf] <= weight[*node]) {
                *leaf += 1;
                *leaf - 1
            } else {
                *node += 1;
                *node - 1
            }
        };
        let a = pick(&mut leaf, &mut node, &weight);
        let b = pick(&mut leaf, &mut node, &weight);
        weight.push(weight[a] + weight[b]);
        parent[a] = next;
        parent[b] = next;
    }
    // Depths: the root is the last node.
    let mut depth = vec![0u32; 2 * m - 1];
    for i in (0..2 * m - 2).rev() {
        depth[i] = depth[parent[i]] + 1;
    }
    // Count codes per length, then limit to max_bits (miniz's Kraft repair).
    let max_bits = max_bits as usize;
    let mut count = vec![0u32; 64.max(max_bits + 1)];
    for d in &depth[..m] {
        count[(*d as usize).min(63)] += 1;
    }
    for l in max_bits + 1..count.len() {
        count[max_bits] += count[l];
        count[l] = 0;
    }
    let mut total: u64 = (1..=max_bits)
        .map(|l| (count[l] as u64) << (max_bits - l))
        .sum();
    while total != 1u64 << max_bits {
        count[max_bits] -= 1;
        for l in (1..max_bits).rev() {
            if count[l] > 0 {
                count[l] -= 1;
                count[l + 1] += 2;
                break;
            }
        }
        total -= 1;
    }
    // Most frequent symbols get the shortest codes.
    let mut it = syms.iter().rev();
    for (l, &c) in count.iter().enumerate().take(max_bits + 1).skip(1) {
        for _ in 0..c {
            lens[*it.next().expect("code count matches symbols")] = l as u8;
        }
    }
    lens
}

/// Canonical codes, bit-reversed for LSB-first output.
fn canonical_codes(lens: &[u8]) -> Vec<u16> {
    let mut count = [0u16; 16];
    for &l in lens {
        count[l as usize] += 1;
    }
    count[0] = 0;
    let mut next = [0u16; 16];
    let mut code = 0u16;
    for bits in 1..16 {
        code = (code + count[bits - 1]) << 1;
        next[bits] = code;
    }
    lens.iter()
        .map(|&l| {
            if l == 0 {
                0
            } else {
                let c = next[l as usize];
                next[l as usize] += 1;
                c.reverse_bits() >> (16 - l)
            }
        })
        .collect()
}

/// Run-length codes the concatenated code lengths: (symbol, extra bits value).
fn rle_lengths(lens: &[u8]) -> Vec<(u8, u8)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lens.len() {
        let l = lens[i];
        let mut r = 1;
        while i + r < lens.len() && lens[i + r] == l {
            r += 1;
        }
        let mut left = r;
        if l == 0 {
            while left >= 11 {
                let k = left.min(138);
                out.push((18, (k - 11) as u8));
                left -= k;
            }
            if left >= 3 {
                out.push((17, (left - 3) as u8));
                left = 0;
            }
        } else {
            out.push((l, 0));
            left -= 1;
            while left >= 3 {
                let k = left.min(6);
                out.push((16, (k - 3) as u8));
                left -= k;
            }
        }
        for _ in 0..left {
            out.push((l, 0));
        }
        i += r;
    }
    out
}

/// Raw-deflates `data` as one dynamic block. `last`: final block (BFINAL) ending the stream;
/// otherwise the piece ends with a sync flush so another piece can follow.
pub(crate) fn deflate_piece(data: &[u8], last: bool) -> Vec<u8> {
    let mut h = Histogram {
        lit: [0; 286],
        lit4: [[0; 256]; 4],
    };
    tokenize(data, &mut h);
    for t in &h.lit4 {
        for (a, b) in h.lit.iter_mut().zip(t) {
            *a += b;
        }
    }
    h.lit[EOB] = 1;
    let lit_lens = code_lengths(&h.lit, MAX_BITS);
    let lit_codes = canonical_codes(&lit_lens);
    let hlit = 257.max(lit_lens.iter().rposition(|&l| l > 0).map_or(0, |p| p + 1));
    // Distance alphabet: codes 0 and 1 with one bit each (only code 0, distance 1, is used).
    let dist_lens = [1u8, 1];

    let mut all = lit_lens[..hlit].to_vec();
    all.extend_from_slice(&dist_lens);
    let rle = rle_lengths(&all);
    let mut cl_freq = [0u32; 19];
    for &(s, _) in &rle {
        cl_freq[s as usize] += 1;
    }
    let cl_lens = code_lengths(&cl_freq, MAX_CL_BITS);
    let cl_codes = canonical_codes(&cl_lens);
    let hclen = 4.max(
        CL_ORDER
            .iter()
            .rposition(|&s| cl_lens[s] > 0)
            .map_or(0, |p| p + 1),
    );

    let mut bits = Bits::with_capacity(data.len() / 2 + 1024);
    bits.write(last as u64, 1);
    bits.write(2, 2); // dynamic Huffman
    bits.write((hlit - 257) as u64, 5);
    bits.write((dist_lens.len() - 1) as u64, 5);
    bits.write((hclen - 4) as u64, 4);
    for &s in &CL_ORDER[..hclen] {
        bits.write(cl_lens[s] as u64, 3);
    }
    for &(s, extra) in &rle {
        bits.write(cl_codes[s as usize] as u64, cl_lens[s as usize] as u32);
        match s {
            16 => bits.write(extra as u64, 2),
            17 => bits.write(extra as u64, 3),
            18 => bits.write(extra as u64, 7),
            _ => {}
        }
    }

    let mut enc = Encoder {
        bits: &mut bits,
        table: [0; 286],
    };
    for (t, (&c, &l)) in enc.table.iter_mut().zip(lit_codes.iter().zip(&lit_lens)) {
        *t = c as u32 | (l as u32) << 16;
    }
    tokenize(data, &mut enc);
    bits.write(lit_codes[EOB] as u64, lit_lens[EOB] as u32);
    if last {
        bits.finish(&[])
    } else {
        bits.write(0, 3); // empty stored block, not final: header, align, LEN 0, NLEN 0xFFFF
        bits.finish(&[0, 0, 0xFF, 0xFF])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn inflate(raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(raw)
            .read_to_end(&mut out)
            .expect("valid deflate");
        out
    }

    fn check(data: &[u8]) {
        // As one final piece, and split into two pieces concatenated.
        assert_eq!(inflate(&deflate_piece(data, true)), data);
        let mid = data.len() / 3;
        let mut two = deflate_piece(&data[..mid], false);
        two.extend(deflate_piece(&data[mid..], true));
        assert_eq!(inflate(&two), data);
    }

    #[test]
    fn round_trips() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        check(&[]);
        check(&[0]);
        check(&[7]);
        check(&[0; 9]);
        // Zero runs of every length around the interesting edges, between literals.
        for r in [
            1usize, 2, 3, 7, 8, 9, 10, 11, 258, 259, 260, 261, 262, 263, 516, 517, 518, 519, 1000,
        ] {
            let mut v = vec![5u8];
            v.extend(std::iter::repeat_n(0, r));
            v.push(9);
            v.extend(std::iter::repeat_n(0, r));
            check(&v);
        }
        // Random bytes, skewed bytes (long codes), and a mix with runs.
        let random: Vec<u8> = (0..100_000).map(|_| rnd() as u8).collect();
        check(&random);
        let skewed: Vec<u8> = (0..100_000)
            .map(|_| {
                let r = rnd();
                (r.trailing_zeros() * 8 + (r >> 60) as u32) as u8
            })
            .collect();
        check(&skewed);
        let mixed: Vec<u8> = (0..200_000)
            .map(|i| {
                // long zero stretches, scattered zeros, random bytes
                let zero = (i / 1000) % 3 == 0 || rnd() % 4 == 0;
                if zero { 0 } else { rnd() as u8 }
            })
            .collect();
        check(&mixed);
    }

    #[test]
    fn lengths_are_limited_and_complete() {
        // Fibonacci frequencies force very deep trees.
        let mut f = vec![0u32; 286];
        let (mut a, mut b) = (1u32, 1u32);
        for v in f.iter_mut().take(40) {
            *v = a;
            (a, b) = (b, a.saturating_add(b));
        }
        for max in [7u8, 15] {
            let lens = code_lengths(&f, max);
            assert!(lens.iter().all(|&l| l <= max));
            let kraft: f64 = lens
                .iter()
                .filter(|&&l| l > 0)
                .map(|&l| 0.5f64.powi(l as i32))
                .sum();
            assert!((kraft - 1.0).abs() < 1e-12, "kraft {kraft}");
            assert_eq!(lens.iter().filter(|&&l| l > 0).count(), 40);
        }
        assert_eq!(code_lengths(&[0, 0, 5], 15), vec![1, 0, 1]);
        assert_eq!(code_lengths(&[0, 0, 0], 15), vec![0, 0, 0]);
    }
}
