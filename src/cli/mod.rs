//! The command line: its definition (clap) here, one module per command.

mod analyze;
mod capture;
mod common;
mod model;
mod snapshot;
mod tui;
mod watch;

pub(crate) use clap::{Parser, Subcommand, ValueEnum};
pub(crate) use lvsdiag::engine::{Analysis, Options};
pub(crate) use lvsdiag::finding::Severity;
pub(crate) use lvsdiag::flow::table::DEFAULT_MAX_FLOWS;
pub(crate) use lvsdiag::model::Mode;
pub(crate) use lvsdiag::report::{json, sanitize, text};
pub(crate) use lvsdiag::session::{Session, SessionOptions};
pub(crate) use lvsdiag::source::file::expand_inputs;
pub(crate) use lvsdiag::source::live::{CaptureOptions, Spec};
pub(crate) use lvsdiag::source::InputError;
pub(crate) use lvsdiag::system::{self, command};
pub(crate) use lvsdiag::tui::app::App;
pub(crate) use std::io::{IsTerminal, Write};
pub(crate) use std::sync::atomic::{AtomicBool, Ordering};
pub(crate) use std::sync::Arc;
pub(crate) use std::time::{Duration, Instant};

pub(crate) use analyze::run_analyze;
pub(crate) use capture::run_capture;
pub(crate) use common::*;
pub(crate) use model::run_model;
pub(crate) use snapshot::{run_check, run_snapshot};
pub(crate) use tui::run_tui;
pub(crate) use watch::{run_watch, WatchArgs};

#[derive(Parser)]
#[command(
    name = "lvsdiag",
    version,
    about = "Why is this LVS/IPVS load balancer not balancing? Reads captures from the director and real servers, live or from files, and says.",
    args_conflicts_with_subcommands = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) cmd: Option<Cmd>,
    /// Without a command: the TUI (`lvsdiag tui ...`).
    #[command(flatten)]
    pub(crate) tui: TuiArgs,
}

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// Analyze capture files (one per capture point), or live sources, and report per service and real server.
    Analyze(AnalyzeArgs),
    /// The incident view: services, findings, flows, ARP, config; from files or live.
    Tui(TuiArgs),
    /// Run unattended on a director (a systemd service): live capture points analyzed over
    /// a rolling window, Prometheus metrics on /metrics, and a flight recorder of pcapngs.
    Watch(WatchArgs),
    /// Capture live points to one pcapng file (an interface per point) or a directory of pcaps, for a later `analyze`.
    Capture(CaptureArgs),
    /// Read this host's LVS configuration from the kernel (IPVS, links, addresses,
    /// routes, neighbours, sysctls), read-only, and write it as JSON.
    Snapshot(SnapshotArgs),
    /// Cross-check the live configuration (snapshots, no capture) and report findings.
    Check(CheckArgs),
    /// Print the LVS model lvsdiag derives from keepalived.conf, IPVS files and snapshots:
    /// services, real servers, weights, methods, VRRP instances.
    Model(ModelCmdArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout: lvsdiag man > lvsdiag.1
    Man,
    /// Write synthetic captures for benchmarks and bound tests.
    #[command(hide = true)]
    Generate {
        /// dr | dr-healthy | dr-open | syn-flood | udp-flood | long-lived | rst-storm | arp-storm
        kind: String,
        /// Connections (dr), SYNs (syn-flood), datagrams (udp-flood), data segments
        /// (long-lived), resets (rst-storm) or MACs (arp-storm).
        count: u64,
        out: std::path::PathBuf,
    },
}

/// Where packets come from: files, interfaces, commands.
#[derive(clap::Args, Default)]
pub(crate) struct SourceArgs {
    /// Capture files or directories of them, each file one capture point named by its
    /// file stem (NAME=PATH to name it); `*.json` files are configuration snapshots.
    #[arg(value_name = "[NAME=]PATH")]
    pub(crate) inputs: Vec<String>,
    /// A capture file to read (repeatable), as with tcpdump -r; the same as naming it.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub(crate) read: Vec<String>,
    #[command(flatten)]
    pub(crate) live: LiveArgs,
}

/// Live capture points: interfaces and commands (all that `capture` takes).
#[derive(clap::Args, Default)]
pub(crate) struct LiveArgs {
    /// Capture live on an interface (repeatable): -i eth0, -i dir=eth0, -i rs1=eth0@rs1
    /// (IFACE@NETNS: inside network namespace NETNS).
    #[arg(short = 'i', long = "interface", value_name = "[NAME=]IFACE[@NETNS]")]
    pub(crate) interfaces: Vec<String>,
    /// Network namespace for -i interfaces given without @NETNS.
    #[arg(long, value_name = "NAME")]
    pub(crate) netns: Option<String>,
    /// A pcap stream from a command's stdout, one capture point (repeatable), e.g.
    /// --exec rs1='ssh rs1 tcpdump -U -i eth0 -w -'.
    #[arg(long = "exec", value_name = "NAME=COMMAND")]
    pub(crate) exec: Vec<String>,
    /// BPF capture filter for live interfaces (tcpdump syntax), e.g. 'arp or tcp port 80'.
    #[arg(short = 'f', long, value_name = "BPF")]
    pub(crate) filter: Option<String>,
    /// Bytes kept of each packet on live interfaces: the default keeps every header
    /// the checks read; 0 keeps whole packets (as tcpdump -s 0).
    #[arg(short = 's', long, default_value_t = lvsdiag::source::live::DEFAULT_SNAPLEN,
          value_parser = clap::value_parser!(i32).range(0..=262_144))]
    pub(crate) snaplen: i32,
    /// Kernel capture buffer per live interface, in KiB (as tcpdump -B).
    #[arg(short = 'B', long = "buffer-size", value_name = "KiB", default_value_t = lvsdiag::source::live::DEFAULT_BUFFER_KIB,
          value_parser = clap::value_parser!(i32).range(256..=2_097_152))]
    pub(crate) buffer_kib: i32,
}

impl SourceArgs {
    pub(crate) fn specs(&self) -> Result<Vec<Spec>, InputError> {
        let mut specs = Vec::new();
        if !self.inputs.is_empty() {
            for (name, path) in expand_inputs(&self.inputs)? {
                specs.push(Spec::File { name, path });
            }
        }
        specs.extend(self.live.specs()?);
        unique_names(&specs)?;
        Ok(specs)
    }

    pub(crate) fn is_live(&self) -> bool {
        self.live.is_live()
    }

    pub(crate) fn capture(&self, model: Option<&lvsdiag::model::Model>) -> CaptureOptions {
        self.live.capture(model)
    }
}

/// Point names must be unique.
fn unique_names(specs: &[Spec]) -> Result<(), InputError> {
    let mut seen = std::collections::HashSet::new();
    for s in specs {
        if !seen.insert(s.name().to_string()) {
            return Err(InputError(format!(
                "two capture points are named {}; name them: -i NAME=IFACE, --exec NAME=CMD, NAME=FILE",
                s.name()
            )));
        }
    }
    Ok(())
}

impl LiveArgs {
    pub(crate) fn specs(&self) -> Result<Vec<Spec>, InputError> {
        let mut specs = Vec::new();
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
        unique_names(&specs)?;
        Ok(specs)
    }

    pub(crate) fn is_live(&self) -> bool {
        !self.interfaces.is_empty() || !self.exec.is_empty()
    }

    /// Capture settings; without -f, live interfaces capture only the
    /// traffic of the model's VIPs and real servers when those are known.
    pub(crate) fn capture(&self, model: Option<&lvsdiag::model::Model>) -> CaptureOptions {
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
pub(crate) struct ModelArgs {
    /// A virtual service address, ADDR[:PORT][/tcp|udp|sctp] (repeatable; TCP when not
    /// said). Without --vip/--ipvs the services are inferred from the traffic.
    #[arg(long, value_name = "ADDR[:PORT][/PROTO]")]
    pub(crate) vip: Vec<String>,
    /// What a firewall-mark service covers: MARK=ADDR[:PORT][/PROTO][,ADDR…] (repeatable),
    /// e.g. 1=192.0.2.100:80,192.0.2.100:443. Else it is read from the director snapshot's
    /// nftables rules, or learnt from the traffic forwarded to its real servers.
    #[arg(long, value_name = "MARK=ADDR[:PORT],…")]
    pub(crate) fwmark: Vec<String>,
    /// IPVS configuration: output of `ipvsadm -S -n` or a copy of /proc/net/ip_vs (repeatable).
    #[arg(long, value_name = "FILE")]
    pub(crate) ipvs: Vec<String>,
    /// IPVS's TCP timeout in seconds (the first figure `ipvsadm -L --timeout` prints),
    /// for judging idle connections; else a snapshot's, else the 900 s default.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) ipvs_timeout: Option<u32>,
    #[command(flatten)]
    pub(crate) ka: KeepalivedArgs,
    /// Forwarding mode when the traffic does not show it.
    #[arg(long, value_enum, default_value_t = ModeArg::Auto)]
    pub(crate) mode: ModeArg,
    /// Cap on connections tracked at once; beyond it the idlest are concluded early.
    #[arg(long, default_value_t = DEFAULT_MAX_FLOWS as u64, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub(crate) max_flows: u64,
    /// Configuration snapshots (`lvsdiag snapshot` JSON, or a directory of them) to
    /// cross-check with the traffic (repeatable).
    #[arg(long, value_name = "FILE|DIR")]
    pub(crate) snapshot: Vec<String>,
}

impl ModelArgs {
    pub(crate) fn options(&self) -> Options {
        Options {
            mode: match self.mode {
                ModeArg::Auto => None,
                ModeArg::Nat => Some(Mode::Nat),
                ModeArg::Dr => Some(Mode::Dr),
                ModeArg::Tun => Some(Mode::Tun),
            },
            max_flows: self.max_flows as usize,
            keep_flows: 0,
        }
    }
}

#[derive(clap::Args)]
pub(crate) struct AnalyzeArgs {
    #[command(flatten)]
    pub(crate) src: SourceArgs,
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    /// With live sources: print the text report every --interval seconds until
    /// Ctrl-C, --duration, or every source ends.
    #[arg(long)]
    pub(crate) live: bool,
    /// CI: the findings (warning and above) the captures must yield, as JSON
    /// {"findings":[{"code","severity","real_server"}]}; exit 0 when exactly those,
    /// 1 with the differences on stderr.
    #[arg(long, value_name = "FILE")]
    pub(crate) expect: Option<std::path::PathBuf>,
    /// Seconds between reports with --live.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub(crate) interval: f64,
    /// Stop live capture after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) duration: Option<f64>,
    #[command(flatten)]
    pub(crate) report: ReportArgs,
    /// Also write the analysis as Prometheus metrics to FILE (atomically: a temporary
    /// file, then a rename), for node_exporter's textfile collector.
    #[arg(long, value_name = "FILE.prom")]
    pub(crate) metrics_file: Option<std::path::PathBuf>,
}

/// How the report is written and what fails it.
#[derive(clap::Args)]
pub(crate) struct ReportArgs {
    /// Report format: text for a person, json for scripts and CI (with --live, one
    /// document per line), junit for CI test reporters.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub(crate) fail_on: FailOn,
    /// Colour: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub(crate) color: Color,
}

#[derive(clap::Args, Default)]
pub(crate) struct TuiArgs {
    #[command(flatten)]
    pub(crate) src: SourceArgs,
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    /// Replay files at capture speed times this factor (1 = real time); default: read at once.
    #[arg(long, value_name = "FACTOR")]
    pub(crate) speed: Option<f64>,
    /// Directory where `e` writes pcapng exports.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub(crate) export_dir: std::path::PathBuf,
}

/// keepalived configurations, for `analyze`/`tui` and `model` alike.
#[derive(clap::Args, Default)]
pub(crate) struct KeepalivedArgs {
    /// A keepalived configuration (repeatable; `*keepalived*.conf` files in an input
    /// directory are read too): its virtual servers are the model when no --ipvs or
    /// snapshot gives one; its VRRP instances are held against the adverts on the wire.
    #[arg(long, value_name = "FILE")]
    pub(crate) keepalived: Vec<String>,
    /// keepalived's -i: which `@ID` conditional lines of the configuration apply.
    #[arg(long, value_name = "ID")]
    pub(crate) keepalived_id: Option<String>,
}

#[derive(clap::Args)]
pub(crate) struct ModelCmdArgs {
    #[command(flatten)]
    pub(crate) ka: KeepalivedArgs,
    /// IPVS configuration: `ipvsadm -S -n` output or /proc/net/ip_vs (repeatable).
    #[arg(long, value_name = "FILE")]
    pub(crate) ipvs: Vec<String>,
    /// Configuration snapshots (`lvsdiag snapshot` JSON, or a directory of them).
    #[arg(long, value_name = "FILE|DIR")]
    pub(crate) snapshot: Vec<String>,
    /// text for a person, json for scripts.
    #[arg(long, value_enum, default_value_t = ModelFormat::Text)]
    pub(crate) format: ModelFormat,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub(crate) enum ModelFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
pub(crate) struct CaptureArgs {
    #[command(flatten)]
    pub(crate) src: LiveArgs,
    /// Where to write: FILE.pcapng (one file, one named interface per capture point, with
    /// each point's drops in its interface statistics), or a directory of NAME.pcap files.
    #[arg(short = 'w', long = "write", value_name = "FILE.pcapng|DIR")]
    pub(crate) dir: std::path::PathBuf,
    /// Stop after this many seconds (default: Ctrl-C, or when every source ends).
    #[arg(long, value_name = "SECONDS")]
    pub(crate) duration: Option<f64>,
}

#[derive(clap::Args)]
pub(crate) struct NetnsArgs {
    /// Read network namespace NAME (/var/run/netns/NAME) instead of this one (repeatable).
    #[arg(long, value_name = "NAME")]
    pub(crate) netns: Vec<String>,
    /// Read every named network namespace.
    #[arg(long, conflicts_with = "netns")]
    pub(crate) all_netns: bool,
}

#[derive(clap::Args)]
pub(crate) struct SnapshotArgs {
    #[command(flatten)]
    pub(crate) ns: NetnsArgs,
    /// Write DIR/<host>.json per host instead of JSON on stdout.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<std::path::PathBuf>,
    /// Also write the raw netlink replies as DIR/<host>/<request>.bin (decoder fixtures).
    #[arg(long, value_name = "DIR", hide = true)]
    pub(crate) record: Option<std::path::PathBuf>,
}

#[derive(clap::Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub(crate) ns: NetnsArgs,
    /// Check these snapshot files (or directories of them) instead of the live kernel.
    #[arg(long, value_name = "FILE|DIR", conflicts_with_all = ["netns", "all_netns"])]
    pub(crate) snapshot: Vec<String>,
    #[command(flatten)]
    pub(crate) report: ReportArgs,
}

#[derive(Clone, Copy, ValueEnum, Default)]
pub(crate) enum ModeArg {
    #[default]
    Auto,
    Nat,
    Dr,
    Tun,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub(crate) enum Format {
    Text,
    Json,
    /// JUnit XML: a test case per service and real server, a failure per finding at
    /// or above --fail-on.
    Junit,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub(crate) enum Color {
    Auto,
    Always,
    Never,
}
