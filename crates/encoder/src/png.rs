//! PNG writer: RGBA8, straight alpha, one zlib stream built from independently deflated strips.

use std::io::Write;

use flate2::{Compress, Compression, FlushCompress, Status};

use crate::filter::filter_adaptive;
use crate::pixel::unpremultiply_row;
use crate::{EncodeError, PngCompression, PngOptions, check_dimensions, pipeline};

/// How the zlib stream is produced.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PngMethod {
    /// zlib-rs at this level (1..=9), strips deflated in parallel and concatenated.
    ParallelZlib(u8),
    /// fdeflate, one stream on the calling thread (filtering still runs in parallel).
    Fdeflate,
    /// This crate's literal + zero-run encoder with per-strip Huffman codes, in parallel.
    ParallelFast,
}

impl PngCompression {
    pub(crate) fn method(self) -> PngMethod {
        match self {
            PngCompression::Fast => PngMethod::ParallelFast,
            PngCompression::Default => PngMethod::ParallelZlib(6),
            PngCompression::Best => PngMethod::ParallelZlib(9),
        }
    }
}

/// Target size of the raw (filtered) data of one strip, per method.
fn strip_bytes(method: PngMethod) -> usize {
    match method {
        PngMethod::ParallelFast => 1 << 18,
        _ => 1 << 20,
    }
}
/// IDAT payload size for the fdeflate path.
const IDAT_BYTES: usize = 1 << 20;

const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

fn write_chunk<W: Write>(out: &mut W, kind: &[u8; 4], parts: &[&[u8]]) -> std::io::Result<()> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let len = u32::try_from(len).map_err(|_| std::io::Error::other("PNG chunk too large"))?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    out.write_all(&len.to_be_bytes())?;
    out.write_all(kind)?;
    for p in parts {
        crc.update(p);
        out.write_all(p)?;
    }
    out.write_all(&crc.finalize().to_be_bytes())
}

/// Pixels per metre for a density in dots per inch, rounded (300 -> 11811).
pub(crate) fn dpi_to_ppm(dpi: u32) -> u32 {
    let ppm = (dpi as u64 * 10_000 + 127) / 254;
    ppm.min(i32::MAX as u64) as u32
}

/// `adler32(A ++ B)` from `adler32(A)`, `adler32(B)` and `len(B)` (zlib's `adler32_combine`).
pub(crate) fn adler32_combine(adler1: u32, adler2: u32, len2: u64) -> u32 {
    const BASE: u64 = 65521;
    let rem = len2 % BASE;
    let a1 = (adler1 & 0xffff) as u64;
    let b1 = (adler1 >> 16) as u64;
    let a2 = (adler2 & 0xffff) as u64;
    let b2 = (adler2 >> 16) as u64;
    let sum1 = (a1 + a2 + BASE - 1) % BASE;
    let sum2 = (rem * a1 + b1 + b2 + BASE - rem) % BASE;
    (sum1 | (sum2 << 16)) as u32
}

/// Geometry shared by all strips.
struct Layout<'a> {
    data: &'a [u8],
    row_bytes: usize,
    height: usize,
    rows_per_strip: usize,
}

impl Layout<'_> {
    fn strips(&self) -> usize {
        self.height.div_ceil(self.rows_per_strip)
    }

    fn row(&self, y: usize) -> &[u8] {
        &self.data[y * self.row_bytes..(y + 1) * self.row_bytes]
    }

    /// Unpremultiplies and filters the rows of strip `i` (each row: filter byte + row).
    fn filter_strip(&self, i: usize) -> Vec<u8> {
        let r0 = i * self.rows_per_strip;
        let r1 = (r0 + self.rows_per_strip).min(self.height);
        let rb = self.row_bytes;
        let mut prev = vec![0u8; rb];
        let mut cur = vec![0u8; rb];
        if r0 > 0 {
            // The previous strip's last row: filters see the whole image, only deflate is split.
            unpremultiply_row(self.row(r0 - 1), &mut prev);
        }
        let mut filtered = vec![0u8; (r1 - r0) * (rb + 1)];
        for (y, out) in (r0..r1).zip(filtered.chunks_exact_mut(rb + 1)) {
            unpremultiply_row(self.row(y), &mut cur);
            filter_adaptive(&prev, &cur, out);
            std::mem::swap(&mut prev, &mut cur);
        }
        filtered
    }
}

struct Piece {
    deflated: Vec<u8>,
    adler: u32,
    raw_len: u64,
}

/// Raw-deflates `input`; ends with a sync flush (byte-aligned, concatenable) or, for the last
/// piece, with the final block.
fn deflate_piece(input: &[u8], level: u8, last: bool) -> Result<Vec<u8>, EncodeError> {
    let mut c = Compress::new(Compression::new(level as u32), false);
    let mut out = Vec::with_capacity(input.len() / 2 + 1024);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&input[consumed..], &mut out, flush)
            .map_err(|e| EncodeError::Io(std::io::Error::other(e)))?;
        let done_input = c.total_in() as usize == input.len();
        match status {
            Status::StreamEnd => break,
            // A flush is complete when all input is in and the output buffer was not filled.
            Status::Ok | Status::BufError if !last && done_input && out.len() < out.capacity() => {
                break;
            }
            _ => {}
        }
    }
    Ok(out)
}

fn zlib_header(level: u8) -> [u8; 2] {
    // CMF 0x78: deflate, 32 KiB window. FLEVEL from the level; FCHECK makes it a multiple of 31.
    let flevel: u16 = match level {
        0..=1 => 0,
        2..=5 => 1,
        6 => 2,
        _ => 3,
    };
    let mut hdr = (0x78u16 << 8) | (flevel << 6);
    hdr += 31 - hdr % 31;
    hdr.to_be_bytes()
}

pub(crate) fn write_png<W: Write>(
    mut out: W,
    width: u32,
    height: u32,
    rgba: &[u8],
    opts: &PngOptions,
    method: PngMethod,
) -> Result<(), EncodeError> {
    check_dimensions(width, height, rgba.len(), i32::MAX as u32, "PNG")?;
    let row_bytes = width as usize * 4;
    let layout = Layout {
        data: rgba,
        row_bytes,
        height: height as usize,
        rows_per_strip: (strip_bytes(method) / (row_bytes + 1)).max(1),
    };

    out.write_all(&SIGNATURE)?;
    let mut ihdr = [0u8; 13];
    ihdr[..4].copy_from_slice(&width.to_be_bytes());
    ihdr[4..8].copy_from_slice(&height.to_be_bytes());
    ihdr[8] = 8; // bit depth
    ihdr[9] = 6; // colour type RGBA
    // compression 0, filter method 0, interlace 0
    write_chunk(&mut out, b"IHDR", &[&ihdr])?;
    write_chunk(&mut out, b"sRGB", &[&[0]])?; // rendering intent: perceptual
    if opts.dpi > 0 {
        let ppm = dpi_to_ppm(opts.dpi).to_be_bytes();
        write_chunk(&mut out, b"pHYs", &[&ppm, &ppm, &[1]])?; // unit: metre
    }

    let window = 2 * rayon::current_num_threads() + 2;
    let strips = layout.strips();
    match method {
        PngMethod::ParallelZlib(_) | PngMethod::ParallelFast => {
            let level = match method {
                PngMethod::ParallelZlib(level) => level.min(9),
                _ => 1,
            };
            let header = zlib_header(level);
            let mut adler = 1u32;
            pipeline::ordered(
                strips,
                window,
                |i| -> Result<Piece, EncodeError> {
                    let filtered = layout.filter_strip(i);
                    let mut a = simd_adler32::Adler32::new();
                    a.write(&filtered);
                    let last = i + 1 == strips;
                    let deflated = match method {
                        PngMethod::ParallelFast => {
                            crate::fastdeflate::deflate_piece(&filtered, last)
                        }
                        _ => deflate_piece(&filtered, level, last)?,
                    };
                    Ok(Piece {
                        deflated,
                        adler: a.finish(),
                        raw_len: filtered.len() as u64,
                    })
                },
                |i, piece| -> Result<(), EncodeError> {
                    let piece = piece?;
                    adler = adler32_combine(adler, piece.adler, piece.raw_len);
                    let head: &[u8] = if i == 0 { &header } else { &[] };
                    let trailer = adler.to_be_bytes();
                    let tail: &[u8] = if i + 1 == strips { &trailer } else { &[] };
                    write_chunk(&mut out, b"IDAT", &[head, &piece.deflated, tail])?;
                    Ok(())
                },
            )?;
        }
        PngMethod::Fdeflate => {
            let mut sink = IdatSink {
                out: &mut out,
                buf: Vec::with_capacity(IDAT_BYTES + 64 * 1024),
                err: None,
            };
            let mut comp = fdeflate::Compressor::new(&mut sink)?;
            pipeline::ordered(
                strips,
                window,
                |i| layout.filter_strip(i),
                |_, filtered| -> Result<(), EncodeError> {
                    comp.write_data(&filtered)?;
                    Ok(())
                },
            )?;
            comp.finish()?;
            sink.flush_chunk();
            if let Some(e) = sink.err {
                return Err(e.into());
            }
        }
    }
    write_chunk(&mut out, b"IEND", &[])?;
    out.flush()?;
    Ok(())
}

/// Collects compressed bytes and emits them as IDAT chunks. Never reports an error to its
/// caller (fdeflate unwraps write errors); the first error is kept and returned at the end.
struct IdatSink<'a, W: Write> {
    out: &'a mut W,
    buf: Vec<u8>,
    err: Option<std::io::Error>,
}

impl<W: Write> IdatSink<'_, W> {
    fn flush_chunk(&mut self) {
        if self.err.is_none()
            && !self.buf.is_empty()
            && let Err(e) = write_chunk(self.out, b"IDAT", &[&self.buf])
        {
            self.err = Some(e);
        }
        self.buf.clear();
    }
}

impl<W: Write> Write for IdatSink<'_, W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.err.is_none() {
            self.buf.extend_from_slice(data);
            if self.buf.len() >= IDAT_BYTES {
                self.flush_chunk();
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppm_rounding() {
        assert_eq!(dpi_to_ppm(300), 11811);
        assert_eq!(dpi_to_ppm(72), 2835);
        assert_eq!(dpi_to_ppm(96), 3780);
        assert_eq!(dpi_to_ppm(u32::MAX), i32::MAX as u32);
    }

    #[test]
    fn adler_combine_matches_direct() {
        let data: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let whole = {
            let mut a = simd_adler32::Adler32::new();
            a.write(&data);
            a.finish()
        };
        for split in [0usize, 1, 65521, 100_000, 200_000] {
            let (x, y) = data.split_at(split);
            let mut ax = simd_adler32::Adler32::new();
            ax.write(x);
            let mut ay = simd_adler32::Adler32::new();
            ay.write(y);
            assert_eq!(
                adler32_combine(ax.finish(), ay.finish(), y.len() as u64),
                whole
            );
        }
    }

    #[test]
    fn zlib_headers_valid() {
        for level in 1..=9 {
            let h = zlib_header(level);
            assert_eq!(h[0], 0x78);
            assert_eq!(u16::from_be_bytes(h) % 31, 0);
        }
        assert_eq!(zlib_header(6), [0x78, 0x9c]);
        assert_eq!(zlib_header(9), [0x78, 0xda]);
        assert_eq!(zlib_header(1), [0x78, 0x01]);
    }
}
