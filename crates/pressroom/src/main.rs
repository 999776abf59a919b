//! `pressroom`: one binary, several roles. For now: `render` (one print file from a template and
//! a data file). `serve`, `worker` and `migrate` come with the order pipeline.

mod render_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pressroom",
    version,
    about = "Self-hosted web-to-print: templates in, 300-DPI print files out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render a template with personalization values into a print file (and preview, mockup, report).
    Render(render_cmd::RenderArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Render(args) => render_cmd::run(args),
    }
}
