//! The `vigil` command line: reads configuration, sets up logging and runtimes, and wires the
//! storage engine, the OTLP receivers and the HTTP API together (`vigil serve`). The binary is a
//! thin `main` over [`cli_main`], so tests can build the same program.

mod config;
mod serve;
mod telemetry;

use clap::{Parser, Subcommand};

use crate::config::{Config, Overrides};

/// Vigil: an observability backend for OpenTelemetry metrics, logs and traces.
#[derive(Debug, Parser)]
#[command(name = "vigil", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server: OTLP ingest, storage and the HTTP API.
    Serve(Overrides),
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Prints the effective configuration as TOML.
    Show(Overrides),
}

/// Parses the command line and runs the chosen command.
pub fn cli_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(overrides) => {
            let config = Config::load(&overrides)?;
            telemetry::init_logging(&config);
            serve::run(config)
        }
        Command::Config {
            command: ConfigCommand::Show(overrides),
        } => {
            let config = Config::load(&overrides)?;
            print!("{}", config.to_toml()?);
            Ok(())
        }
    }
}
