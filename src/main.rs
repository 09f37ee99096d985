use clap::{Parser, Subcommand, ValueEnum};
use lvsdiag::analyze;
use lvsdiag::engine::Options;
use lvsdiag::finding::Severity;
use lvsdiag::flow::table::DEFAULT_MAX_FLOWS;
use lvsdiag::model::Mode;
use lvsdiag::report::{json, sanitize, text};
use lvsdiag::system::{self, command};
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
    /// Read this host's LVS configuration from the kernel (IPVS, links, addresses,
    /// routes, neighbours, sysctls), read-only, and write it as JSON.
    Snapshot(SnapshotArgs),
    /// Cross-check the live configuration (snapshots, no capture) and report findings.
    Check(CheckArgs),
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
    /// file stem (NAME=PATH to name it); `*.json` files are configuration snapshots.
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
    /// Configuration snapshots (`lvsdiag snapshot` JSON, or a directory of them) to
    /// cross-check with the traffic (repeatable).
    #[arg(long, value_name = "FILE|DIR")]
    snapshot: Vec<String>,
}

#[derive(clap::Args)]
struct NetnsArgs {
    /// Read network namespace NAME (/var/run/netns/NAME) instead of this one (repeatable).
    #[arg(long, value_name = "NAME")]
    netns: Vec<String>,
    /// Read every named network namespace.
    #[arg(long, conflicts_with = "netns")]
    all_netns: bool,
}

#[derive(clap::Args)]
struct SnapshotArgs {
    #[command(flatten)]
    ns: NetnsArgs,
    /// Write DIR/<host>.json per host instead of JSON on stdout.
    #[arg(long, value_name = "DIR")]
    out: Option<std::path::PathBuf>,
    /// Also write the raw netlink replies as DIR/<host>/<request>.bin (decoder fixtures).
    #[arg(long, value_name = "DIR", hide = true)]
    record: Option<std::path::PathBuf>,
}

#[derive(clap::Args)]
struct CheckArgs {
    #[command(flatten)]
    ns: NetnsArgs,
    /// Check these snapshot files (or directories of them) instead of the live kernel.
    #[arg(long, value_name = "FILE|DIR", conflicts_with_all = ["netns", "all_netns"])]
    snapshot: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    fail_on: FailOn,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
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
        Cmd::Snapshot(a) => run_snapshot(a),
        Cmd::Check(a) => run_check(a),
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
    let (mut model, warnings) = match analyze::build_model(&a.vip, &a.ipvs) {
        Ok(m) => m,
        Err(e) => return fail(&e.to_string()),
    };
    // Snapshot files among the inputs (`lvsdiag snapshot` JSON beside the captures).
    let (json, inputs): (Vec<String>, Vec<String>) = a
        .inputs
        .iter()
        .cloned()
        .partition(|i| i.ends_with(".json") && std::path::Path::new(i).is_file());
    let snapshot_args: Vec<String> = a.snapshot.iter().cloned().chain(json).collect();
    let snapshots = match system::load(&snapshot_args) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    for s in system::to_model(&snapshots).services {
        model.add(s);
    }
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
    if inputs.is_empty() {
        return fail("no capture files given, only snapshots; to check the configuration alone use lvsdiag check --snapshot FILE");
    }
    let analysis = match analyze::run_files_with(&inputs, model, opts, snapshots) {
        Ok(an) => an,
        Err(e) => return fail(&e.to_string()),
    };
    if !print_report(&analysis, a.format, a.color) {
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
    analyze::exit_status(&analysis, fail_on(a.fail_on)) as u8
}

fn fail_on(f: FailOn) -> Option<Severity> {
    match f {
        FailOn::Error => Some(Severity::Error),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Info => Some(Severity::Info),
        FailOn::Never => None,
    }
}

/// Writes the report to stdout; false when stdout is gone.
fn print_report(analysis: &lvsdiag::engine::Analysis, format: Format, color: Color) -> bool {
    let out = match format {
        Format::Json => json::render(analysis),
        Format::Text => {
            let color = match color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    std::io::stdout().is_terminal()
                        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                }
            };
            text::render(analysis, &text::Style { color })
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        .is_ok()
}

/// Reads the live snapshots the options name; warnings go to stderr.
fn live_snapshots(
    ns: &NetnsArgs,
    record: bool,
) -> Result<Vec<(system::HostSnapshot, system::collect::Recording)>, String> {
    let targets = command::targets(&ns.netns, ns.all_netns)?;
    let taken = command::take(&targets, record)?;
    for (s, _) in &taken {
        for w in &s.warnings {
            eprintln!("lvsdiag: warning: {}: {}", sanitize(&s.host), sanitize(w));
        }
    }
    Ok(taken)
}

fn run_snapshot(a: SnapshotArgs) -> u8 {
    let taken = match live_snapshots(&a.ns, a.record.is_some()) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    if let Some(dir) = &a.record {
        if let Err(e) = command::write_recordings(dir, &taken) {
            return fail(&e);
        }
    }
    let snaps: Vec<_> = taken.into_iter().map(|(s, _)| s).collect();
    match &a.out {
        Some(dir) => match command::write_dir(dir, &snaps) {
            Ok(()) => 0,
            Err(e) => fail(&e),
        },
        None => {
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(system::to_json(&snaps).as_bytes())
                .and_then(|_| stdout.flush())
                .is_err()
            {
                return 2;
            }
            0
        }
    }
}

fn run_check(a: CheckArgs) -> u8 {
    let snaps = if a.snapshot.is_empty() {
        match live_snapshots(&a.ns, false) {
            Ok(t) => t.into_iter().map(|(s, _)| s).collect(),
            Err(e) => return fail(&e),
        }
    } else {
        match system::load(&a.snapshot) {
            Ok(s) => s,
            Err(e) => return fail(&e),
        }
    };
    if !snaps
        .iter()
        .any(|s| s.ipvs.as_ref().is_some_and(|i| !i.services.is_empty()))
    {
        let hosts: Vec<&str> = snaps.iter().map(|s| s.host.as_str()).collect();
        return fail(&format!(
            "no IPVS services in {} (ip_vs not loaded, or an empty table): run lvsdiag check on the director, or add its snapshot with --snapshot",
            sanitize(&hosts.join(", "))
        ));
    }
    let analysis = command::check(snaps);
    if !print_report(&analysis, a.format, a.color) {
        return 2;
    }
    analyze::exit_status(&analysis, fail_on(a.fail_on)) as u8
}

fn fail(msg: &str) -> u8 {
    eprintln!("lvsdiag: {msg}");
    2
}
