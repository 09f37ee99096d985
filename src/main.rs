use clap::{Parser, Subcommand, ValueEnum};
use lvsdiag::analyze;
use lvsdiag::engine::Options;
use lvsdiag::finding::Severity;
use lvsdiag::flow::table::DEFAULT_MAX_FLOWS;
use lvsdiag::model::Mode;
use lvsdiag::report::{json, text};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "lvsdiag",
    version,
    about = "Why is this LVS/IPVS load balancer not balancing? Reads captures from the director and real servers and says."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Analyze capture files (one per capture point) and report per service and real server.
    Analyze(AnalyzeArgs),
    /// Write synthetic captures for benchmarks and bound tests.
    #[command(hide = true)]
    Generate {
        /// dr | syn-flood | arp-storm
        kind: String,
        /// Connections (dr), SYNs (syn-flood) or MACs (arp-storm).
        count: u64,
        out: std::path::PathBuf,
    },
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Capture files or directories of them, each file one capture point named by its
    /// file stem (NAME=PATH to name it).
    #[arg(required = true, value_name = "[NAME=]PATH")]
    inputs: Vec<String>,
    /// A virtual service address, ADDR[:PORT] (repeatable). Without --vip/--ipvs the
    /// services are inferred from the traffic.
    #[arg(long, value_name = "ADDR[:PORT]")]
    vip: Vec<String>,
    /// IPVS configuration: output of `ipvsadm -S -n` or a copy of /proc/net/ip_vs (repeatable).
    #[arg(long, value_name = "FILE")]
    ipvs: Vec<String>,
    /// Forwarding mode when the traffic does not show it.
    #[arg(long, value_enum, default_value_t = ModeArg::Auto)]
    mode: ModeArg,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    fail_on: FailOn,
    /// Colour: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// Cap on connections tracked at once; beyond it the idlest are concluded early.
    #[arg(long, default_value_t = DEFAULT_MAX_FLOWS)]
    max_flows: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    Auto,
    Nat,
    Dr,
    Tun,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Color {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.cmd {
        Cmd::Analyze(a) => run_analyze(a),
        Cmd::Generate { kind, count, out } => {
            let r = match kind.as_str() {
                "dr" => lvsdiag::generate::dr(&out, count),
                "syn-flood" => lvsdiag::generate::syn_flood(&out, count),
                "arp-storm" => lvsdiag::generate::arp_storm(&out, count),
                other => Err(format!("unknown kind {other}: dr, syn-flood or arp-storm")),
            };
            match r {
                Ok(n) => {
                    eprintln!("lvsdiag: wrote {n} packets to {}", out.display());
                    0
                }
                Err(e) => fail(&e),
            }
        }
    };
    ExitCode::from(code)
}

fn run_analyze(a: AnalyzeArgs) -> u8 {
    let (model, warnings) = match analyze::build_model(&a.vip, &a.ipvs) {
        Ok(m) => m,
        Err(e) => return fail(&e.to_string()),
    };
    for w in warnings {
        eprintln!("lvsdiag: warning: {w}");
    }
    let opts = Options {
        mode: match a.mode {
            ModeArg::Auto => None,
            ModeArg::Nat => Some(Mode::Nat),
            ModeArg::Dr => Some(Mode::Dr),
            ModeArg::Tun => Some(Mode::Tun),
        },
        max_flows: a.max_flows,
    };
    let analysis = match analyze::run_files(&a.inputs, model, opts) {
        Ok(an) => an,
        Err(e) => return fail(&e.to_string()),
    };
    let out = match a.format {
        Format::Json => json::render(&analysis),
        Format::Text => {
            let color = match a.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    std::io::stdout().is_terminal()
                        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                }
            };
            text::render(&analysis, &text::Style { color })
        }
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        .is_err()
    {
        return 2;
    }
    // A capture that ended early: the report covers what was read, but the
    // numbers are incomplete, so say so and exit as for bad input.
    let mut input_error = false;
    for p in &analysis.points {
        if let Some(e) = &p.error {
            eprintln!("lvsdiag: {e}");
            input_error = true;
        }
    }
    if input_error {
        return 2;
    }
    let fail_on = match a.fail_on {
        FailOn::Error => Some(Severity::Error),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Info => Some(Severity::Info),
        FailOn::Never => None,
    };
    analyze::exit_status(&analysis, fail_on) as u8
}

fn fail(msg: &str) -> u8 {
    eprintln!("lvsdiag: {msg}");
    2
}
