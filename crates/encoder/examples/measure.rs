//! Times the encoders on a real canvas: `cargo run --release -p encoder --example measure -- IN.png [OUTDIR]`.
//! The PNG is loaded, converted to premultiplied RGBA8 (as the renderer produces) and encoded.
use std::time::Instant;

use encoder::{JpegOptions, PngCompression, PngMethod, PngOptions, write_jpeg, write_png_with};

/// CPU time of all threads of this process so far, in seconds (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut ns = 0u64;
    for t in dir.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
            ns += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    ns as f64 * 1e-9
}

/// Peak resident set size so far, in MB (Linux; 0 elsewhere).
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: measure IN.png [OUTDIR] [METHODS]");
    let outdir = args.next().unwrap_or_else(|| "/tmp".into());
    let which = args.next().unwrap_or_else(|| "z1,z2,z3,fd,z6,jpeg".into());
    let mut dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
    dec.set_transformations(png::Transformations::EXPAND);
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba);
    let (w, h) = (info.width, info.height);
    for px in buf.chunks_exact_mut(4) {
        let a = px[3] as u32;
        for c in &mut px[..3] {
            *c = ((*c as u32 * a + 127) / 255) as u8;
        }
    }
    let base = peak_rss_mb();
    println!(
        "{w}x{h}, {} threads, peak RSS after loading {base:.0} MB",
        rayon::current_num_threads()
    );
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    for name in which.split(',') {
        let mut times = Vec::new();
        let mut cpus = Vec::new();
        let mut out = Vec::with_capacity(64 << 20);
        for _ in 0..reps {
            out.clear();
            let t = Instant::now();
            let c = cpu_seconds();
            if name == "jpeg" {
                write_jpeg(&mut out, w, h, &buf, &JpegOptions::PRINT).unwrap();
            } else {
                let method = match name {
                    "fd" => PngMethod::Fdeflate,
                    "fast" => PngMethod::ParallelFast,
                    z => PngMethod::ParallelZlib(z[1..].parse().unwrap()),
                };
                let opts = PngOptions {
                    compression: PngCompression::Default,
                    dpi: 300,
                };
                write_png_with(&mut out, w, h, &buf, &opts, method).unwrap();
            }
            times.push(t.elapsed().as_secs_f64());
            cpus.push(cpu_seconds() - c);
        }
        times.sort_by(f64::total_cmp);
        cpus.sort_by(f64::total_cmp);
        println!(
            "{name:5} wall median {:.3} s  min {:.3} s  cpu min {:.3} s  size {} bytes  peak extra (beyond input and output) {:.0} MB",
            times[times.len() / 2],
            times[0],
            cpus[0],
            out.len(),
            peak_rss_mb() - base - out.len() as f64 / 1048576.0
        );
        let ext = if name == "jpeg" { "jpg" } else { "png" };
        std::fs::write(format!("{outdir}/enc_{name}.{ext}"), &out).unwrap();
    }
}
