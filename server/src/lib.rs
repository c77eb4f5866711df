//! The `vigil` command line: reads configuration, sets up logging and runtimes, and wires the
//! storage engine, the OTLP receivers and the HTTP API together (`vigil serve`). The binary is a
//! thin `main` over [`cli_main`], so tests can build the same program.

mod config;
mod generator;
mod rules;
mod selfwatch;
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
    /// Rule-file tools (as `promtool`'s).
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Alertmanager configuration tools (as `amtool`'s).
    Alertmanager {
        #[command(subcommand)]
        command: AlertmanagerCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AlertmanagerCommand {
    /// Checks Alertmanager configuration files as `amtool check-config` does (exit code 0 when
    /// every file loads, 1 otherwise), with Alertmanager's error texts.
    Check {
        /// The configuration files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Checks rule files as `promtool check rules` does (same output and exit codes: 0 fine,
    /// 1 an error, 3 lint findings with `--lint-fatal`).
    Check {
        /// `duplicate-rules` (the default) or `none`.
        #[arg(long, default_value = "duplicate-rules")]
        lint: String,
        /// Lint findings fail the check (exit code 3).
        #[arg(long)]
        lint_fatal: bool,
        /// Accept fields Prometheus does not know.
        #[arg(long)]
        ignore_unknown_fields: bool,
        /// The rule files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// Runs rule unit-test files as `promtool test rules` does (same file format; exit code 0
    /// when every test passes, 1 otherwise).
    Test {
        /// Only tests whose name matches this regular expression (repeatable).
        #[arg(long)]
        run: Vec<String>,
        /// Accept fields Prometheus does not know in the rule files.
        #[arg(long)]
        ignore_unknown_fields: bool,
        /// The unit-test files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
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
        Command::Rules {
            command:
                RulesCommand::Check {
                    lint,
                    lint_fatal,
                    ignore_unknown_fields,
                    files,
                },
        } => {
            let lint_duplicates = match lint.as_str() {
                "duplicate-rules" | "all" => true,
                "none" => false,
                other => {
                    anyhow::bail!("unknown lint option {other:?}: use duplicate-rules, all or none")
                }
            };
            let options = alerting::rules::CheckOptions {
                parse: alerting::rules::ParseOptions {
                    ignore_unknown_fields,
                    ..Default::default()
                },
                lint_duplicates,
                lint_fatal,
            };
            let out = alerting::rules::check_files(&files, options);
            print!("{}", out.stdout);
            eprint!("{}", out.stderr);
            std::process::exit(out.exit_code);
        }
        Command::Alertmanager {
            command: AlertmanagerCommand::Check { files },
        } => {
            let out = alerting::alertmanager::config::check_files(&files);
            print!("{}", out.stdout);
            eprint!("{}", out.stderr);
            std::process::exit(out.exit_code);
        }
        Command::Rules {
            command:
                RulesCommand::Test {
                    run,
                    ignore_unknown_fields,
                    files,
                },
        } => {
            let options = alerting::unittest::TestOptions {
                run,
                ignore_unknown_fields,
                ..Default::default()
            };
            let out = alerting::unittest::test_files(&files, &options);
            print!("{}", out.stdout);
            eprint!("{}", out.stderr);
            std::process::exit(out.exit_code);
        }
    }
}
