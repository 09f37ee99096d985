use clap::{Parser, Subcommand, ValueEnum};
use lvsdiag::analyze;
use lvsdiag::engine::{Analysis, Options};
use lvsdiag::finding::Severity;
use lvsdiag::flow::table::DEFAULT_MAX_FLOWS;
use lvsdiag::model::Mode;
use lvsdiag::report::{json, sanitize, text};
use lvsdiag::session::{Session, SessionOptions};
use lvsdiag::source::file::expand_inputs;
use lvsdiag::source::live::{CaptureOptions, Spec};
use lvsdiag::source::InputError;
use lvsdiag::system::{self, command};
use lvsdiag::tui::app::App;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "lvsdiag",
    version,
    about = "Why is this LVS/IPVS load balancer not balancing? Reads captures from the director and real servers, live or from files, and says.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// Without a command: the TUI (`lvsdiag tui ...`).
    #[command(flatten)]
    tui: TuiArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Analyze capture files (one per capture point), or live sources, and report per service and real server.
    Analyze(AnalyzeArgs),
    /// The incident view: services, findings, flows, ARP, config; from files or live.
    Tui(TuiArgs),
    /// Capture live points to one pcap file per point, for a later `analyze`.
    Capture(CaptureArgs),
    /// Read this host's LVS configuration from the kernel (IPVS, links, addresses,
    /// routes, neighbours, sysctls), read-only, and write it as JSON.
    Snapshot(SnapshotArgs),
    /// Cross-check the live configuration (snapshots, no capture) and report findings.
    Check(CheckArgs),
    /// Write synthetic captures for benchmarks and bound tests.
    #[command(hide = true)]
    Generate {
        /// dr | dr-healthy | syn-flood | arp-storm
        kind: String,
        /// Connections (dr), SYNs (syn-flood) or MACs (arp-storm).
        count: u64,
        out: std::path::PathBuf,
    },
}

/// Where packets come from: files, interfaces, commands.
#[derive(clap::Args, Default)]
struct SourceArgs {
    /// Capture files or directories of them, each file one capture point named by its
    /// file stem (NAME=PATH to name it); `*.json` files are configuration snapshots.
    #[arg(value_name = "[NAME=]PATH")]
    inputs: Vec<String>,
    /// Capture live on an interface (repeatable): -i eth0, -i dir=eth0, -i rs1=eth0@rs1
    /// (IFACE@NETNS: inside network namespace NETNS).
    #[arg(short = 'i', long = "interface", value_name = "[NAME=]IFACE[@NETNS]")]
    interfaces: Vec<String>,
    /// Network namespace for -i interfaces given without @NETNS.
    #[arg(long, value_name = "NAME")]
    netns: Option<String>,
    /// A pcap stream from a command's stdout, one capture point (repeatable), e.g.
    /// --exec rs1='ssh rs1 tcpdump -U -i eth0 -w -'.
    #[arg(long = "exec", value_name = "NAME=COMMAND")]
    exec: Vec<String>,
    /// BPF capture filter for live interfaces (tcpdump syntax), e.g. 'arp or tcp port 80'.
    #[arg(short = 'f', long, value_name = "BPF")]
    filter: Option<String>,
    /// Bytes kept of each packet on live interfaces: the default keeps every header
    /// the checks read; 0 keeps whole packets (as tcpdump -s 0).
    #[arg(short = 's', long, default_value_t = lvsdiag::source::live::DEFAULT_SNAPLEN)]
    snaplen: i32,
    /// Kernel capture buffer per live interface, in KiB (as tcpdump -B).
    #[arg(short = 'B', long = "buffer-size", value_name = "KiB", default_value_t = lvsdiag::source::live::DEFAULT_BUFFER_KIB)]
    buffer_kib: i32,
}

impl SourceArgs {
    fn specs(&self) -> Result<Vec<Spec>, InputError> {
        let mut specs = Vec::new();
        if !self.inputs.is_empty() {
            for (name, path) in expand_inputs(&self.inputs)? {
                specs.push(Spec::File { name, path });
            }
        }
        for i in &self.interfaces {
            specs.push(Spec::interface(i, self.netns.as_deref())?);
        }
        for e in &self.exec {
            specs.push(Spec::command(e)?);
        }
        if self.netns.is_some() && self.interfaces.is_empty() {
            return Err(InputError(
                "--netns applies to -i interfaces; give -i IFACE".into(),
            ));
        }
        // Point names must be unique.
        let mut seen = std::collections::HashSet::new();
        for s in &specs {
            if !seen.insert(s.name().to_string()) {
                return Err(InputError(format!(
                    "two capture points are named {}; name them: -i NAME=IFACE, --exec NAME=CMD, NAME=FILE",
                    s.name()
                )));
            }
        }
        Ok(specs)
    }

    fn is_live(&self) -> bool {
        !self.interfaces.is_empty() || !self.exec.is_empty()
    }

    /// Capture settings; without -f, live interfaces capture only the
    /// traffic of the model's VIPs and real servers when those are known.
    fn capture(&self, model: Option<&lvsdiag::model::Model>) -> CaptureOptions {
        use lvsdiag::source::live::{filter_for, MAX_SNAPLEN};
        let auto = || {
            let f = filter_for(&model?.addresses()?)?;
            if !self.interfaces.is_empty() {
                eprintln!("lvsdiag: capture filter from the known VIPs and real servers: {f} (-f sets another)");
            }
            Some(f)
        };
        CaptureOptions {
            filter: self.filter.clone().or_else(auto),
            snaplen: if self.snaplen == 0 {
                MAX_SNAPLEN
            } else {
                self.snaplen.clamp(64, MAX_SNAPLEN)
            },
            buffer_bytes: self.buffer_kib.clamp(256, 1 << 21).saturating_mul(1024),
        }
    }
}

/// What the load balancer is: services and modes.
#[derive(clap::Args, Default)]
struct ModelArgs {
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
    /// Cap on connections tracked at once; beyond it the idlest are concluded early.
    #[arg(long, default_value_t = DEFAULT_MAX_FLOWS)]
    max_flows: usize,
    /// Configuration snapshots (`lvsdiag snapshot` JSON, or a directory of them) to
    /// cross-check with the traffic (repeatable).
    #[arg(long, value_name = "FILE|DIR")]
    snapshot: Vec<String>,
}

impl ModelArgs {
    fn options(&self) -> Options {
        Options {
            mode: match self.mode {
                ModeArg::Auto => None,
                ModeArg::Nat => Some(Mode::Nat),
                ModeArg::Dr => Some(Mode::Dr),
                ModeArg::Tun => Some(Mode::Tun),
            },
            max_flows: self.max_flows,
            keep_flows: 0,
        }
    }
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    #[command(flatten)]
    src: SourceArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// With live sources: print the text report every --interval seconds until
    /// Ctrl-C, --duration, or every source ends.
    #[arg(long)]
    live: bool,
    /// Seconds between reports with --live.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    interval: f64,
    /// Stop live capture after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    fail_on: FailOn,
    /// Colour: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
}

#[derive(clap::Args, Default)]
struct TuiArgs {
    #[command(flatten)]
    src: SourceArgs,
    #[command(flatten)]
    model: ModelArgs,
    /// Replay files at capture speed times this factor (1 = real time); default: read at once.
    #[arg(long, value_name = "FACTOR")]
    speed: Option<f64>,
    /// Directory where `e` writes pcapng exports.
    #[arg(long, value_name = "DIR", default_value = ".")]
    export_dir: std::path::PathBuf,
}

#[derive(clap::Args)]
struct CaptureArgs {
    #[command(flatten)]
    src: SourceArgs,
    /// Where to write: FILE.pcapng (one file, one named interface per capture point, with
    /// each point's drops in its interface statistics), or a directory of NAME.pcap files.
    #[arg(short = 'w', long = "write", value_name = "FILE.pcapng|DIR")]
    dir: std::path::PathBuf,
    /// Stop after this many seconds (default: Ctrl-C, or when every source ends).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
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

#[derive(Clone, Copy, ValueEnum, Default)]
enum ModeArg {
    #[default]
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
        Some(Cmd::Analyze(a)) => run_analyze(a),
        Some(Cmd::Tui(t)) => run_tui(t),
        Some(Cmd::Capture(c)) => run_capture(c),
        Some(Cmd::Snapshot(a)) => run_snapshot(a),
        Some(Cmd::Check(a)) => run_check(a),
        None => {
            if cli.tui.src.inputs.is_empty() && !cli.tui.src.is_live() {
                let _ = <Cli as clap::CommandFactory>::command().print_help();
                2
            } else {
                run_tui(cli.tui)
            }
        }
        Some(Cmd::Generate { kind, count, out }) => {
            let r = match kind.as_str() {
                "dr" => lvsdiag::generate::dr(&out, count),
                "dr-healthy" => lvsdiag::generate::dr_healthy(&out, count),
                "syn-flood" => lvsdiag::generate::syn_flood(&out, count),
                "arp-storm" => lvsdiag::generate::arp_storm(&out, count),
                other => Err(format!(
                    "unknown kind {other}: dr, dr-healthy, syn-flood or arp-storm"
                )),
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

/// Set by SIGINT / SIGTERM: stop capturing and report what was read.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

fn catch_interrupt() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

/// The model from --vip, --ipvs and the snapshots (`--snapshot`, and `*.json`
/// files among the inputs, which are taken out of them).
fn prepare(
    m: &ModelArgs,
    src: &mut SourceArgs,
) -> Result<(lvsdiag::model::Model, Vec<system::HostSnapshot>), u8> {
    let (mut model, warnings) =
        analyze::build_model(&m.vip, &m.ipvs).map_err(|e| fail(&e.to_string()))?;
    let (json, inputs): (Vec<String>, Vec<String>) = src
        .inputs
        .iter()
        .cloned()
        .partition(|i| i.ends_with(".json") && std::path::Path::new(i).is_file());
    src.inputs = inputs;
    let snapshot_args: Vec<String> = m.snapshot.iter().cloned().chain(json).collect();
    let snapshots = system::load(&snapshot_args).map_err(|e| fail(&e))?;
    for s in system::to_model(&snapshots).services {
        model.add(s);
    }
    for w in warnings {
        eprintln!("lvsdiag: warning: {w}");
    }
    if src.inputs.is_empty() && !src.is_live() && !snapshots.is_empty() {
        return Err(fail("no capture files given, only snapshots; to check the configuration alone use lvsdiag check --snapshot FILE"));
    }
    Ok((model, snapshots))
}

fn run_tui(mut t: TuiArgs) -> u8 {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return fail(
            "the TUI needs a terminal; for a report use lvsdiag analyze (add --format json for CI)",
        );
    }
    let (model, snapshots) = match prepare(&t.model, &mut t.src) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let specs = match t.src.specs() {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let label = describe(&specs);
    let opts = SessionOptions {
        engine: Options {
            keep_flows: 2000,
            ..t.model.options()
        },
        capture: t.src.capture(Some(&model)),
        speed: t.speed,
        snapshots,
        ..SessionOptions::default()
    };
    let session = match Session::start(specs, model, opts) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let mut app = App::new(label);
    app.export_dir = t.export_dir;
    if let Err(e) = lvsdiag::tui::run(&session, app) {
        return fail(&format!("terminal error: {e}"));
    }
    let last = session.stop();
    point_errors(last.as_ref().map(|p| &p.overview.analysis))
}

/// Prints each point that ended with an error; 2 when there is one.
fn point_errors(a: Option<&Analysis>) -> u8 {
    let mut code = 0;
    for p in a.map(|a| a.points.as_slice()).unwrap_or_default() {
        if let Some(e) = &p.error {
            eprintln!("lvsdiag: {e}");
            code = 2;
        }
    }
    code
}

fn describe(specs: &[Spec]) -> String {
    let files = specs.iter().filter(|s| !s.is_live()).count();
    let ifaces = specs
        .iter()
        .filter(|s| matches!(s, Spec::Interface { .. }))
        .count();
    let cmds = specs
        .iter()
        .filter(|s| matches!(s, Spec::Command { .. }))
        .count();
    let mut parts = Vec::new();
    if files > 0 {
        let first = specs
            .iter()
            .find_map(|s| match s {
                Spec::File { path, .. } => path.parent().map(|p| p.display().to_string()),
                _ => None,
            })
            .unwrap_or_default();
        parts.push(format!(
            "{files} file(s) in {}",
            lvsdiag::report::sanitize(&first)
        ));
    }
    if ifaces > 0 {
        parts.push(format!("{ifaces} interface(s)"));
    }
    if cmds > 0 {
        parts.push(format!("{cmds} stream(s)"));
    }
    parts.join(", ")
}

fn run_capture(c: CaptureArgs) -> u8 {
    if !c.src.is_live() {
        return fail("capture needs live sources: -i IFACE or --exec NAME='COMMAND'");
    }
    let specs = match c.src.specs() {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    catch_interrupt();
    let deadline = c
        .duration
        .map(|d| Instant::now() + Duration::from_secs_f64(d.max(0.0)));
    match lvsdiag::capture::run(specs, &c.src.capture(None), &c.dir, &|| {
        INTERRUPTED.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d)
    }) {
        Ok(points) => {
            let mut code = 0;
            for p in &points {
                let l = p.live.clone().unwrap_or_default();
                eprintln!(
                    "lvsdiag: {}: {} packets to {} (drops: kernel {}, interface {}, lvsdiag {})",
                    p.name,
                    p.packets,
                    p.path
                        .as_ref()
                        .map_or(String::new(), |x| lvsdiag::report::sanitize(
                            &x.display().to_string()
                        )),
                    l.kernel_drops,
                    l.interface_drops,
                    l.lvsdiag_drops
                );
                if let Some(e) = &p.error {
                    eprintln!("lvsdiag: {e}");
                    code = 2;
                }
            }
            code
        }
        Err(e) => fail(&e.to_string()),
    }
}

fn run_analyze(mut a: AnalyzeArgs) -> u8 {
    let (model, snapshots) = match prepare(&a.model, &mut a.src) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let color = match a.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let render = |an: &Analysis| match a.format {
        Format::Json => json::render(an),
        Format::Text => text::render(an, &text::Style { color }),
    };
    let analysis = if a.src.is_live() || a.live {
        if !a.src.is_live() {
            return fail("--live needs live sources: -i IFACE or --exec NAME='COMMAND'");
        }
        match analyze_live(&a, model, snapshots, &render) {
            Ok((an, Some(elapsed))) if matches!(a.format, Format::Json) => {
                // The final NDJSON line.
                if !emit(&json::render_line(&an, true, elapsed)) {
                    return 2;
                }
                return finish_analyze(&a, &an);
            }
            Ok((an, _)) => an,
            Err(code) => return code,
        }
    } else {
        if a.src.inputs.is_empty() {
            return fail(
                "give capture files (or a directory of them), or live sources with -i / --exec",
            );
        }
        match analyze::run_files_with(&a.src.inputs, model, a.model.options(), snapshots) {
            Ok(an) => an,
            Err(e) => return fail(&e.to_string()),
        }
    };
    if !emit(&render(&analysis)) {
        return 2;
    }
    finish_analyze(&a, &analysis)
}

/// The exit status once the report is written.
fn finish_analyze(a: &AnalyzeArgs, analysis: &Analysis) -> u8 {
    // A capture that ended early: the report covers what was read, but the
    // numbers are incomplete, so say so and exit as for bad input.
    if point_errors(Some(analysis)) != 0 {
        return 2;
    }
    analyze::exit_status(analysis, fail_on(a.fail_on)) as u8
}

fn emit(out: &str) -> bool {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        .is_ok()
}

/// Live sources: report every --interval (with --live) until Ctrl-C,
/// --duration, or every source has ended; returns the final analysis.
fn analyze_live(
    a: &AnalyzeArgs,
    model: lvsdiag::model::Model,
    snapshots: Vec<system::HostSnapshot>,
    render: &dyn Fn(&Analysis) -> String,
) -> Result<(Analysis, Option<f64>), u8> {
    let specs = a.src.specs().map_err(|e| fail(&e.to_string()))?;
    catch_interrupt();
    let opts = SessionOptions {
        engine: a.model.options(),
        capture: a.src.capture(Some(&model)),
        // Without --live nothing reads the running analysis: do not conclude
        // a copy of it every half second.
        interval: if a.live {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(86_400)
        },
        snapshots,
        ..SessionOptions::default()
    };
    let names: Vec<String> = specs.iter().map(|s| s.name().to_string()).collect();
    let session = Session::start(specs, model, opts).map_err(|e| fail(&e.to_string()))?;
    eprintln!(
        "lvsdiag: capturing on {} point(s): {}; Ctrl-C stops and reports",
        names.len(),
        names.join(" ")
    );
    let started = Instant::now();
    let interval = Duration::from_secs_f64(a.interval.max(0.5));
    let mut next_report = started + interval;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let latest = session.latest();
        if latest.as_ref().is_some_and(|p| p.done) {
            break;
        }
        if INTERRUPTED.load(Ordering::Relaxed)
            || a.duration
                .is_some_and(|d| started.elapsed().as_secs_f64() >= d)
        {
            break;
        }
        if a.live && Instant::now() >= next_report {
            next_report += interval;
            if let Some(p) = latest {
                let secs = p.elapsed.as_secs();
                let ok = match a.format {
                    // NDJSON: one document per line; the human line on stderr.
                    Format::Json => emit(&json::render_line(
                        &p.overview.analysis,
                        false,
                        p.elapsed.as_secs_f64(),
                    )),
                    Format::Text => {
                        emit(&format!(
                            "--- lvsdiag: report after {secs} s (running; Ctrl-C stops) ---\n"
                        )) && emit(&render(&p.overview.analysis))
                    }
                };
                if !ok {
                    return Err(2);
                }
            }
        }
    }
    match session.stop() {
        Some(p) => {
            let elapsed = p.elapsed.as_secs_f64();
            let an = match Arc::try_unwrap(p) {
                Ok(p) => p.overview.analysis,
                Err(p) => lvsdiag::engine::Analysis::clone(&p.overview.analysis),
            };
            Ok((an, a.live.then_some(elapsed)))
        }
        None => Err(fail("the analysis stopped before producing a report")),
    }
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
