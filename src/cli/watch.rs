//! `lvsdiag watch`: the long-running mode for a systemd service.

use super::*;
use lvsdiag::report::metrics;
use lvsdiag::watch::{self, recorder::RecordOptions, Inputs, Signals, WatchOptions};

/// `30s`, `5m`, `2h`, `500ms`, or plain seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s}: not a duration; give e.g. 30s, 5m, 1h"))?;
    if !v.is_finite() || v <= 0.0 || v * mult > 1e9 {
        return Err(format!("{s}: give a positive duration, e.g. 30s, 5m, 1h"));
    }
    Ok(Duration::from_secs_f64(v * mult))
}

/// `64MiB`, `512KiB`, `1GiB`, or plain bytes.
pub(crate) fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (num, mult) = [
        ("GiB", 1u64 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("B", 1),
    ]
    .iter()
    .find_map(|(suf, m)| t.strip_suffix(suf).map(|n| (n, *m)))
    .unwrap_or((t, 1));
    let v: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s}: not a size; give e.g. 64MiB"))?;
    v.checked_mul(mult)
        .filter(|b| *b >= 1 << 16)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| format!("{s}: give a size from 64KiB, e.g. 64MiB"))
}

#[derive(clap::Args)]
pub(crate) struct WatchArgs {
    #[command(flatten)]
    pub(crate) src: LiveArgs,
    #[command(flatten)]
    pub(crate) model: ModelArgs,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (all addresses only if
    /// asked, e.g. 0.0.0.0:9477).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9477")]
    pub(crate) metrics: String,
    /// Findings are judged over a rolling window of the latest traffic this long.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub(crate) window: Duration,
    /// Flight recorder: when a finding at warning or above first appears (or on
    /// SIGUSR1), write the last --record-window of every point as DIR/lvsdiag-*.pcapng
    /// with the finding's JSON beside it.
    #[arg(long, value_name = "DIR")]
    pub(crate) record: Option<std::path::PathBuf>,
    /// How much each capture point keeps for the recorder, in time.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub(crate) record_window: Duration,
    /// ... and in bytes, per point.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub(crate) record_max: usize,
    /// Recordings kept in DIR; the oldest are removed first.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) record_keep: u32,
    /// Re-read this host's live state (IPVS, links, addresses, routes, sysctls) this often.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub(crate) snapshot_every: Duration,
    /// Read the live state of network namespace NAME instead of this host's (repeatable).
    #[arg(long, value_name = "NAME")]
    pub(crate) snapshot_netns: Vec<String>,
    /// Do not read the live state (only --snapshot files, if any).
    #[arg(long)]
    pub(crate) no_live_snapshot: bool,
    /// Stop after this long (default: SIGINT or SIGTERM).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
}

/// The model from the options and configuration files (read again on SIGHUP).
fn load_model(m: &ModelArgs) -> Result<lvsdiag::model::Model, String> {
    let (mut model, warnings) =
        lvsdiag::analyze::build_model(&m.vip, &m.ipvs).map_err(|e| e.to_string())?;
    if m.ipvs_timeout.is_some() {
        model.tcp_timeout = m.ipvs_timeout;
    }
    lvsdiag::analyze::add_keepalived(&mut model, &m.ka.keepalived, m.ka.keepalived_id.as_deref())
        .map_err(|e| e.to_string())?;
    lvsdiag::analyze::add_fwmarks(&mut model, &m.fwmark).map_err(|e| e.to_string())?;
    for w in warnings {
        eprintln!("lvsdiag: warning: {w}");
    }
    Ok(model)
}

pub(crate) fn run_watch(a: WatchArgs) -> u8 {
    if !a.src.is_live() {
        return fail("watch needs live capture points: -i IFACE (or NAME=IFACE@NETNS) or --exec NAME='COMMAND'; for capture files use analyze --metrics-file F.prom");
    }
    let specs = match a.src.specs() {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let model = match load_model(&a.model) {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    let snapshot_files = match system::load(&a.model.snapshot) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let signals = match Signals::register() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let shared = metrics::Shared::default();
    let server =
        match watch::http::MetricsServer::start(&a.metrics, metrics::registry(shared.clone())) {
            Ok(s) => s,
            Err(e) => return fail(&e),
        };
    let take_snapshots: Option<watch::TakeSnapshots> = if a.no_live_snapshot {
        None
    } else {
        let targets: Vec<Option<String>> = if a.snapshot_netns.is_empty() {
            vec![None]
        } else {
            a.snapshot_netns.iter().cloned().map(Some).collect()
        };
        Some(Box::new(move || {
            command::take(&targets, false).map(|v| v.into_iter().map(|(s, _)| s).collect())
        }))
    };
    let capture = a.src.capture(Some(&model));
    let names: Vec<String> = specs.iter().map(|s| s.name().to_string()).collect();
    let banner = format!(
        "lvsdiag watch: capturing on {} point(s): {}; metrics at http://{}/metrics; findings over the last {} s",
        names.len(),
        sanitize(&names.join(" ")),
        server.addr,
        a.window.as_secs()
    );
    let engine = a.model.options();
    let m = a.model;
    let inputs = Inputs {
        load_model: Box::new(move || load_model(&m)),
        snapshot_files,
        take_snapshots,
    };
    let opts = WatchOptions {
        engine,
        capture,
        window: a.window,
        record: a.record.map(|dir| RecordOptions {
            dir,
            window: a.record_window,
            max_bytes: a.record_max,
            keep: a.record_keep as usize,
        }),
        duration: a.duration,
        snapshot_every: a.snapshot_every,
        banner,
    };
    match watch::run(specs, inputs, opts, shared, signals) {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}
