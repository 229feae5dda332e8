//! `ultrares`: command-line access to the ultrares libraries.
//!
//! Exit codes: 0 success, 2 bad arguments or bad input (one line on stderr), 1 other failures.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Ultra-high-resolution latent diffusion tools (LSRNA, WaveDiff, Diffusion-4K).
#[derive(Debug, Parser)]
#[command(name = "ultrares", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the version, the enabled backends and the devices they find.
    Info {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn info(json: bool) -> String {
    let backends = ultrares::backend::enabled();
    let devices = ultrares::backend::devices();
    if json {
        let devices: Vec<_> = devices
            .iter()
            .map(|d| serde_json::json!({"backend": d.backend, "name": d.name}))
            .collect();
        return serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "backends": backends,
            "devices": devices,
        })
        .to_string();
    }
    let mut s = format!(
        "ultrares {}\nbackends: {}\ndevices:",
        env!("CARGO_PKG_VERSION"),
        if backends.is_empty() {
            "none (build with --features ndarray, cuda or wgpu)".to_string()
        } else {
            backends.join(", ")
        }
    );
    if devices.is_empty() {
        s.push_str(" none found");
    }
    for d in devices {
        s.push_str(&format!("\n  {}: {}", d.backend, d.name));
    }
    s
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help / --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let msg = e.to_string();
            let line = msg
                .lines()
                .find(|l| l.starts_with("error:"))
                .unwrap_or("error: a subcommand is required");
            eprintln!("{line} (see `ultrares --help`)");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Info { json } => println!("{}", info(json)),
    }
    ExitCode::SUCCESS
}
