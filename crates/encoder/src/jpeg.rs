//! JPEG writer: flatten onto a background, encode horizontal strips in parallel with
//! jpeg-encoder, and join them with restart markers into one baseline JPEG.
//!
//! Each strip is a whole number of MCU rows and is encoded as its own JPEG with a restart
//! interval equal to its MCU count, so its entropy-coded data is exactly one restart interval.
//! The file is the first strip's headers (frame height patched to the full height), then the
//! strips' entropy-coded data separated by `RSTn` markers, then `EOI`.

use std::io::Write;

use jpeg_encoder::{ChromaSubsamplingMethod, ColorType, Encoder, PixelDensity, SamplingFactor};

use crate::pixel::Flattener;
use crate::{EncodeError, JpegOptions, Subsampling, check_dimensions, pipeline};

/// Target pixel rows per strip (rounded to whole MCU rows).
const STRIP_ROWS: usize = 128;

struct Strip {
    /// Headers up to the end of the SOS segment (first strip only).
    header: Vec<u8>,
    /// Entropy-coded data.
    body: std::ops::Range<usize>,
    bytes: Vec<u8>,
}

fn bad_output() -> EncodeError {
    EncodeError::Io(std::io::Error::other(
        "unexpected segment layout in jpeg-encoder output",
    ))
}

/// Splits one strip's JPEG into (header up to end of SOS, entropy-coded data range) and patches
/// the frame height to `full_height`.
fn split_strip(
    bytes: &mut [u8],
    full_height: u16,
) -> Result<(usize, std::ops::Range<usize>), EncodeError> {
    if bytes.len() < 4 || bytes[..2] != [0xFF, 0xD8] || bytes[bytes.len() - 2..] != [0xFF, 0xD9] {
        return Err(bad_output());
    }
    let mut pos = 2;
    let mut saw_sof = false;
    loop {
        if pos + 4 > bytes.len() || bytes[pos] != 0xFF {
            return Err(bad_output());
        }
        let marker = bytes[pos + 1];
        let len = u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]) as usize;
        let end = pos + 2 + len;
        if len < 2 || end > bytes.len() {
            return Err(bad_output());
        }
        match marker {
            0xC0 => {
                if len < 8 {
                    return Err(bad_output());
                }
                bytes[pos + 5..pos + 7].copy_from_slice(&full_height.to_be_bytes());
                saw_sof = true;
            }
            0xDA if saw_sof => return Ok((end, end..bytes.len() - 2)),
            0xC1..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xDA => {
                return Err(bad_output());
            }
            _ => {}
        }
        pos = end;
    }
}

pub(crate) fn write_jpeg<W: Write>(
    mut out: W,
    width: u32,
    height: u32,
    rgba: &[u8],
    opts: &JpegOptions,
) -> Result<(), EncodeError> {
    check_dimensions(width, height, rgba.len(), u16::MAX as u32, "JPEG")?;
    let (w, h) = (width as usize, height as usize);
    let (sampling, mcu) = match opts.subsampling {
        Subsampling::S444 => (SamplingFactor::F_1_1, 8),
        Subsampling::S420 => (SamplingFactor::F_2_2, 16),
    };
    let mcu_cols = w.div_ceil(mcu);
    let strip_mcu_rows = (STRIP_ROWS / mcu).min(u16::MAX as usize / mcu_cols).max(1);
    let strip_rows = strip_mcu_rows * mcu;
    let strips = h.div_ceil(strip_rows);
    let restart_interval = if strips > 1 {
        (mcu_cols * strip_mcu_rows) as u16
    } else {
        0
    };
    let quality = opts.quality.clamp(1, 100);
    let flattener = Flattener::new(opts.background);
    let window = 2 * rayon::current_num_threads() + 2;

    let produce = |i: usize| -> Result<Strip, EncodeError> {
        let r0 = i * strip_rows;
        let r1 = (r0 + strip_rows).min(h);
        let mut rgb = vec![0u8; (r1 - r0) * w * 3];
        for (src, dst) in rgba[r0 * w * 4..r1 * w * 4]
            .chunks_exact(w * 4)
            .zip(rgb.chunks_exact_mut(w * 3))
        {
            flattener.row(src, dst);
        }
        let mut bytes = Vec::with_capacity(rgb.len() / 4 + 1024);
        let mut enc = Encoder::new(&mut bytes, quality);
        enc.set_sampling_factor(sampling);
        enc.set_chroma_subsampling_method(ChromaSubsamplingMethod::Average);
        enc.set_density(PixelDensity::dpi(opts.dpi));
        enc.set_restart_interval(restart_interval);
        enc.encode(&rgb, w as u16, (r1 - r0) as u16, ColorType::Rgb)?;
        let (header_end, body) = split_strip(&mut bytes, h as u16)?;
        let header = if i == 0 {
            bytes[..header_end].to_vec()
        } else {
            Vec::new()
        };
        Ok(Strip {
            header,
            body,
            bytes,
        })
    };

    pipeline::ordered(
        strips,
        window,
        produce,
        |i, strip| -> Result<(), EncodeError> {
            let strip = strip?;
            out.write_all(&strip.header)?;
            out.write_all(&strip.bytes[strip.body])?;
            if i + 1 < strips {
                out.write_all(&[0xFF, 0xD0 + (i % 8) as u8])?;
            }
            Ok(())
        },
    )?;
    out.write_all(&[0xFF, 0xD9])?;
    out.flush()?;
    Ok(())
}
