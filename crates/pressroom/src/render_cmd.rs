//! `pressroom render`: template + data file -> print file, preview, mockup, preflight report.
//!
//! Every output is written to a temporary file beside its destination and renamed into place
//! only when all of them succeeded, so no failure leaves a partial file behind.

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use renderer::{
    FontLibrary, Input, Limits, PngCompression, PrintFormat, ProduceOptions, RenderError, Renderer,
    Sinks,
};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::NamedTempFile;

#[derive(Args)]
pub struct RenderArgs {
    /// The template folder (holds template.toml).
    #[arg(long)]
    template: PathBuf,
    /// JSON object of field values; photo fields are file paths relative to this file.
    #[arg(long)]
    data: PathBuf,
    /// The print file: .png (RGBA, 300 DPI) or .jpg/.jpeg (flattened on white).
    #[arg(long)]
    out: PathBuf,
    /// Also write a preview JPEG here.
    #[arg(long)]
    preview: Option<PathBuf>,
    /// Preview width in pixels.
    #[arg(long, default_value_t = 1000)]
    preview_width: u32,
    /// Also write the product mockup JPEG here (the template must have a [mockup]).
    #[arg(long)]
    mockup: Option<PathBuf>,
    /// Write the preflight report and render record (JSON) here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Deflate effort of a .png print file.
    #[arg(long, default_value_t = PngCompression::Default, value_parser = png_compression())]
    png_compression: PngCompression,
    /// Quality of a .jpg print file.
    #[arg(
        long,
        default_value_t = PrintFormat::DEFAULT_JPEG_QUALITY,
        value_parser = clap::value_parser!(u8).range(1..=100)
    )]
    jpeg_quality: u8,
    /// The font folder (default: $PRESSROOM_FONTS, else ./fonts, else the fonts/ of the checkout).
    #[arg(long)]
    fonts: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Write the outputs even when preflight finds errors (the merchant's override).
    #[arg(long)]
    allow_preflight_errors: bool,
}

pub fn run(args: RenderArgs) -> ExitCode {
    match render(&args) {
        Ok(code) => code,
        Err(e) => {
            // One line: the whole cause chain.
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// Where fonts live when not given.
pub fn default_fonts_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("PRESSROOM_FONTS") {
        return PathBuf::from(p);
    }
    let local = PathBuf::from("fonts");
    if local.is_dir() {
        return local;
    }
    // target/{debug,release}/pressroom -> the checkout's fonts/.
    if let Ok(exe) = std::env::current_exe()
        && let Some(root) = exe.parent().and_then(Path::parent).and_then(Path::parent)
        && root.join("fonts").is_dir()
    {
        return root.join("fonts");
    }
    local
}

/// `fast`, `default` or `best`, listed in `--help` and in the error for any other value.
fn png_compression() -> impl TypedValueParser<Value = PngCompression> {
    PossibleValuesParser::new(PngCompression::ALL.map(PngCompression::name))
        .try_map(|name| name.parse::<PngCompression>())
}

/// The print file's format: its extension decides PNG or JPEG.
fn print_format(args: &RenderArgs) -> Result<PrintFormat> {
    args.out
        .extension()
        .and_then(|e| e.to_str())
        .and_then(|ext| PrintFormat::for_extension(ext, args.png_compression, args.jpeg_quality))
        .ok_or_else(|| {
            anyhow!(
                "--out {}: the print file must end in .png, .jpg or .jpeg",
                args.out.display()
            )
        })
}

/// Reads the data file: field values, and photo bytes for photo fields.
fn read_input(data: &Path, photo_fields: &[String], limits: &Limits) -> Result<Input> {
    let bytes = std::fs::read(data).with_context(|| format!("--data {}", data.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "--data {}: not valid UTF-8 (at byte {})",
            data.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    let json: serde_json::Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .with_context(|| format!("--data {}: invalid JSON", data.display()))?;
    let obj = json.as_object().ok_or_else(|| {
        anyhow!(
            "--data {}: must be a JSON object of field values",
            data.display()
        )
    })?;
    let mut input = Input::default();
    for (k, v) in obj {
        let s = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Null => continue,
            _ => bail!(
                "--data {}: field `{k}` must be a string, number or boolean",
                data.display()
            ),
        };
        input.values.insert(k.clone(), s);
    }
    let base = data.parent().unwrap_or(Path::new("."));
    let mut photos = BTreeMap::new();
    for f in photo_fields {
        let Some(rel) = input.values.get(f).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let path = base.join(rel);
        let len = std::fs::metadata(&path)
            .with_context(|| format!("photo for field `{f}`: {}", path.display()))?
            .len();
        if len > limits.max_bytes {
            bail!(
                "photo for field `{f}`: {} is {len} bytes; the limit is {}",
                path.display(),
                limits.max_bytes
            );
        }
        let bytes = std::fs::read(&path)
            .with_context(|| format!("photo for field `{f}`: {}", path.display()))?;
        photos.insert(f.clone(), Arc::new(bytes));
    }
    input.photos = photos;
    Ok(input)
}

fn temp_beside(path: &Path) -> Result<NamedTempFile> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    tempfile::Builder::new()
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .prefix(".pressroom-")
        .suffix(".part")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write beside {}", path.display()))
}

fn render(args: &RenderArgs) -> Result<ExitCode> {
    let format = print_format(args)?;
    let started = Instant::now();
    let timeout = Duration::from_secs(args.timeout);
    let should_stop = move || started.elapsed() > timeout;

    // PRESSROOM_TIMINGS=1 prints how long each stage took, for operators and benchmarks.
    let timings = std::env::var_os("PRESSROOM_TIMINGS").is_some();
    let mut last = Instant::now();
    let mut lap = |what: &str| {
        if timings {
            eprintln!("timing: {what}: {:.3} s", last.elapsed().as_secs_f64());
        }
        last = Instant::now();
    };
    let fonts_dir = args.fonts.clone().unwrap_or_else(default_fonts_dir);
    let limits = Limits::default();
    let fonts = FontLibrary::load(&fonts_dir)?;
    let renderer = Renderer::new(Arc::new(fonts), limits);
    let template = renderer.load_template(&args.template)?;
    let photo_fields: Vec<String> = template
        .manifest()
        .fields
        .iter()
        .filter(|f| f.kind == template::FieldKind::Photo)
        .map(|f| f.id.clone())
        .collect();
    let input = read_input(&args.data, &photo_fields, &limits)?;
    lap("load fonts, template and input");
    if args.mockup.is_some() && template.manifest().mockup.is_none() {
        bail!(
            "--mockup: template `{}` has no [mockup]",
            template.manifest().id
        );
    }

    let options = ProduceOptions {
        format,
        preview_width: args.preview_width,
        allow_preflight_errors: args.allow_preflight_errors,
    };
    // Temporary files beside their destinations, made only once preflight lets the files be
    // written; dropped (deleted) on any failure.
    let mut print_tmp = None;
    let mut preview_tmp = None;
    let mut mockup_tmp = None;
    let produced = renderer::produce_into(
        &renderer,
        &template,
        &input,
        &options,
        &should_stop,
        &mut |stage| lap(stage.name()),
        || -> Result<_> {
            let print = print_tmp.insert(temp_beside(&args.out)?);
            let print = BufWriter::with_capacity(1 << 20, reopen(print)?);
            let preview = match &args.preview {
                Some(p) => Some(BufWriter::new(reopen(preview_tmp.insert(temp_beside(p)?))?)),
                None => None,
            };
            let mockup = match &args.mockup {
                Some(p) => Some(BufWriter::new(reopen(mockup_tmp.insert(temp_beside(p)?))?)),
                None => None,
            };
            Ok(Sinks {
                print,
                preview,
                mockup,
            })
        },
    )
    .map_err(|e| match e.downcast_ref::<RenderError>() {
        Some(RenderError::Stopped) => {
            anyhow!("the render ran past its time bound of {} s", args.timeout)
        }
        _ => e,
    })?;
    for w in produced.preflight.warnings() {
        eprintln!("warning: {}: {}", w.code, w.message);
    }
    if produced.blocked() {
        if let Some(report) = &args.report {
            let tmp = temp_beside(report)?;
            write_all(&tmp, &produced.report)?;
            tmp.persist(report)
                .with_context(|| format!("--report {}", report.display()))?;
        }
        let first = produced
            .preflight
            .errors()
            .next()
            .map(|f| f.message.clone())
            .unwrap_or_default();
        let n = produced.preflight.errors().count();
        eprintln!(
            "error: preflight found {n} error(s), nothing written: {first} (use --allow-preflight-errors to override)"
        );
        return Ok(ExitCode::from(1));
    }
    let report_tmp = match &args.report {
        Some(p) => {
            let tmp = temp_beside(p)?;
            write_all(&tmp, &produced.report)?;
            Some(tmp)
        }
        None => None,
    };

    // Everything is written: move it all into place.
    let print_tmp = print_tmp.context("the print file was not written")?;
    print_tmp
        .persist(&args.out)
        .with_context(|| format!("--out {}", args.out.display()))?;
    for (tmp, dest) in [
        (preview_tmp, &args.preview),
        (mockup_tmp, &args.mockup),
        (report_tmp, &args.report),
    ] {
        if let (Some(tmp), Some(dest)) = (tmp, dest) {
            tmp.persist(dest)
                .with_context(|| format!("{}", dest.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A second handle on a temporary file, for a writer that owns it.
fn reopen(tmp: &NamedTempFile) -> Result<File> {
    tmp.as_file()
        .try_clone()
        .with_context(|| format!("cannot write {}", tmp.path().display()))
}

fn write_all(tmp: &NamedTempFile, bytes: &[u8]) -> Result<()> {
    let mut file = tmp.as_file();
    file.write_all(bytes)
        .and_then(|()| file.flush())
        .with_context(|| format!("cannot write {}", tmp.path().display()))
}
