//! One render, start to finish, for every caller: render, decide on preflight, encode the print
//! file and the preview side by side (the print file hashed while it is encoded, so storage
//! never hashes it again), then the mockup and the report.
//!
//! `pressroom render` streams the files into temporary files that it renames into place
//! ([`produce_into`]: a 30 MB print file never sits in memory beside the canvas, which keeps
//! the CLI's peak memory where the benches measured it); the render job keeps them in memory
//! and uploads them ([`produce`]). Only where the bytes go differs.

use std::io::Write;

use crate::{
    Input, OutputInfo, Preflight, PrintFormat, RenderError, RenderRecord, Rendered, Renderer,
    Scale, Template,
};

/// How to make the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceOptions {
    pub format: PrintFormat,
    /// The preview's width in pixels (at most the canvas's own width).
    pub preview_width: u32,
    /// Encode even when preflight found errors: the merchant's override on the command line;
    /// the render job always encodes and records the findings with the render.
    pub allow_preflight_errors: bool,
}

/// Where the encoded files go. Opened only once preflight lets the files be written.
pub struct Sinks<P, V, M> {
    pub print: P,
    /// None: no preview.
    pub preview: Option<V>,
    /// None: no mockup. Some: the mockup, when the template has one.
    pub mockup: Option<M>,
}

/// A stage that just finished (for `PRESSROOM_TIMINGS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Values checked, canvas composited, preflight known.
    Render,
    /// The print file and the preview, encoded side by side.
    PrintAndPreview,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Render => "render",
            Stage::PrintAndPreview => "encode print file and preview",
        }
    }
}

/// What a render produced.
#[derive(Debug, Clone)]
pub struct Production<F> {
    pub preflight: Preflight,
    /// The render record, with the size and SHA-256 of every written output.
    pub record: RenderRecord,
    /// The report file: `{"ok", "preflight", "record"}` as pretty JSON.
    pub report: Vec<u8>,
    /// The files; None when preflight errors blocked them (no sink was opened).
    pub files: Option<F>,
}

impl<F> Production<F> {
    /// Preflight found errors and the files were not written.
    pub fn blocked(&self) -> bool {
        self.files.is_none()
    }
}

/// What [`produce_into`] wrote to its sinks.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// Its `sha256` was computed while encoding.
    pub print: OutputInfo,
    pub preview: Option<OutputInfo>,
    pub mockup: Option<OutputInfo>,
}

/// One encoded file in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub info: OutputInfo,
}

/// The files of a render, in memory (what a render job stores).
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedFiles {
    pub print: Encoded,
    pub preview: Encoded,
    /// None when the template has no mockup.
    pub mockup: Option<Encoded>,
}

/// Renders at print scale and writes the files to the sinks that `open` gives.
///
/// `open` is called only when the files are to be written (no preflight errors, or
/// `allow_preflight_errors`), so a blocked render creates nothing. `should_stop` bounds the
/// render and is asked again once everything is encoded: a stopped render is
/// [`RenderError::Stopped`] even when its files are complete, so a caller that lost its
/// claim on the work never records it.
pub fn produce_into<P, V, M, E>(
    renderer: &Renderer,
    template: &Template,
    input: &Input,
    options: &ProduceOptions,
    should_stop: &(dyn Fn() -> bool + Sync),
    on_stage: &mut dyn FnMut(Stage),
    open: impl FnOnce() -> Result<Sinks<P, V, M>, E>,
) -> Result<Production<Written>, E>
where
    P: Write + Send,
    V: Write + Send,
    M: Write,
    E: From<RenderError>,
{
    let mut rendered = renderer.render(template, input, Scale::Print, should_stop)?;
    on_stage(Stage::Render);
    if rendered.preflight.has_errors() && !options.allow_preflight_errors {
        let report = report_json(&rendered);
        let Rendered {
            preflight, record, ..
        } = rendered;
        return Ok(Production {
            preflight,
            record,
            report,
            files: None,
        });
    }

    let Sinks {
        print,
        preview,
        mockup,
    } = open()?;
    let (print, preview) = rayon::join(
        || rendered.write_print(options.format, print),
        || {
            preview
                .map(|out| rendered.write_preview(options.preview_width, out))
                .transpose()
        },
    );
    on_stage(Stage::PrintAndPreview);
    let (print, preview) = (print?, preview?);
    rendered.record_output("print", print.clone());
    if let Some(info) = &preview {
        rendered.record_output("preview", info.clone());
    }
    let mockup = match mockup {
        Some(out) => rendered.write_mockup(renderer, template, out)?,
        None => None,
    };
    if let Some(info) = &mockup {
        rendered.record_output("mockup", info.clone());
    }
    if should_stop() {
        return Err(RenderError::Stopped.into());
    }
    let report = report_json(&rendered);
    let Rendered {
        preflight, record, ..
    } = rendered;
    Ok(Production {
        preflight,
        record,
        report,
        files: Some(Written {
            print,
            preview,
            mockup,
        }),
    })
}

/// [`produce_into`] in memory, with a preview and (when the template has one) a mockup,
/// whatever preflight found unless `options` say otherwise.
pub fn produce(
    renderer: &Renderer,
    template: &Template,
    input: &Input,
    options: &ProduceOptions,
    should_stop: &(dyn Fn() -> bool + Sync),
) -> Result<Production<EncodedFiles>, RenderError> {
    let (mut print, mut preview, mut mockup) = (Vec::new(), Vec::new(), Vec::new());
    let produced = produce_into(
        renderer,
        template,
        input,
        options,
        should_stop,
        &mut |_| {},
        || {
            Ok::<_, RenderError>(Sinks {
                print: &mut print,
                preview: Some(&mut preview),
                mockup: Some(&mut mockup),
            })
        },
    )?;
    let files = match produced.files {
        Some(Written {
            print: print_info,
            preview: Some(preview_info),
            mockup: mockup_info,
        }) => Some(EncodedFiles {
            print: Encoded {
                bytes: print,
                info: print_info,
            },
            preview: Encoded {
                bytes: preview,
                info: preview_info,
            },
            mockup: mockup_info.map(|info| Encoded {
                bytes: mockup,
                info,
            }),
        }),
        // A preview sink was given, so written files always have a preview.
        _ => None,
    };
    Ok(Production {
        preflight: produced.preflight,
        record: produced.record,
        report: produced.report,
        files,
    })
}

/// The report file: what preflight found and the render record.
fn report_json(r: &Rendered) -> Vec<u8> {
    // Through `json!` (sorted keys), as the report has always been written.
    let report = serde_json::json!({
        "ok": !r.preflight.has_errors(),
        "preflight": r.preflight,
        "record": r.record,
    });
    serde_json::to_vec_pretty(&report).expect("a JSON value serializes")
}
