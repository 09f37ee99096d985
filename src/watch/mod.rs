//! `lvsdiag watch`: days-long, unattended analysis of live capture points
//! for a director, served as Prometheus metrics, with a flight recorder.
//!
//! One thread reads the points (as `analyze --live` does) and feeds each
//! packet, decoded once, to three kinds of engine:
//! - a counting engine (no checks) whose census gives the cumulative
//!   counters, VRRP and the VIPs' ARP claims;
//! - two window engines ([`window::Windows`]) whose older one's analysis is
//!   what holds now: the `lvsdiag_finding` gauges;
//! - the flight recorder's per-point rings ([`recorder::Recorder`]).
//!
//! Every [`EVALUATE`] the findings and counters are gathered into the
//! shared [`Exposition`] that `/metrics` encodes; a finding at warning or
//! above that was not there before is logged and recorded. Every engine is
//! bounded as an `analyze` run is, so memory does not grow with uptime.

pub mod http;
pub mod recorder;
pub mod window;

use crate::decode;
use crate::engine::{Engine, Options};
use crate::finding::Severity;
use crate::flow::view::RsKey;
use crate::model::{Model, ServiceKey};
use crate::report::metrics::{CensusRow, Exposition, FindingSeries, Shared, Target};
use crate::source::live::{CaptureOptions, LiveInput, Spec, Streams};
use crate::source::{PacketSource, RawPacket};
use crate::system::HostSnapshot;
use recorder::{RecordOptions, Recorder, Trigger};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How often findings and counters are gathered for `/metrics`.
pub const EVALUATE: Duration = Duration::from_secs(2);
/// Inferred services remembered for labels (configured ones always are).
const MAX_KNOWN_INFERRED: usize = 64;
/// Real servers' MAC-to-address pairs remembered.
const MAX_RIPS: usize = 4096;

pub struct WatchOptions {
    pub engine: Options,
    pub capture: CaptureOptions,
    /// The traffic window findings are judged over.
    pub window: Duration,
    pub record: Option<RecordOptions>,
    /// Stop after this long (tests, benchmarks); else on SIGINT/SIGTERM.
    pub duration: Option<Duration>,
    pub snapshot_every: Duration,
    /// Said on stderr once every point is open.
    pub banner: String,
}

/// Reads this host's live state (IPVS, links, sysctls).
pub type TakeSnapshots = Box<dyn Fn() -> Result<Vec<HostSnapshot>, String> + Send>;

/// What the watch reads again: the configuration (SIGHUP) and the live
/// host state (every `snapshot_every`).
pub struct Inputs {
    /// The model from the command line and configuration files.
    pub load_model: Box<dyn FnMut() -> Result<Model, String>>,
    /// Snapshots from files (fixed).
    pub snapshot_files: Vec<HostSnapshot>,
    /// Takes this host's live snapshots (`None`: not taken).
    pub take_snapshots: Option<TakeSnapshots>,
}

/// The signals a watch answers.
#[derive(Clone, Default)]
pub struct Signals {
    pub stop: Arc<AtomicBool>,
    pub reload: Arc<AtomicBool>,
    pub record: Arc<AtomicBool>,
}

impl Signals {
    /// SIGINT/SIGTERM stop, SIGHUP reloads, SIGUSR1 records.
    pub fn register() -> Result<Signals, String> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
        let s = Signals::default();
        let reg = |sig, flag: &Arc<AtomicBool>| {
            signal_hook::flag::register(sig, flag.clone())
                .map(|_| ())
                .map_err(|e| format!("cannot handle signal {sig}: {e}"))
        };
        reg(SIGINT, &s.stop)?;
        reg(SIGTERM, &s.stop)?;
        reg(SIGHUP, &s.reload)?;
        reg(SIGUSR1, &s.record)?;
        Ok(s)
    }
}

fn log(msg: &str) {
    eprintln!("lvsdiag watch: {}", crate::text::sanitize(msg));
}

fn wall_secs() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The model: the configuration's, with the services IPVS shows.
fn compose(base: &Model, snaps: &[HostSnapshot]) -> Model {
    let mut m = base.clone();
    for s in crate::system::to_model(snaps).services {
        m.add(s);
    }
    m
}

/// Runs until stopped (Ok) or until every capture point has ended (Err).
pub fn run(
    specs: Vec<Spec>,
    mut inputs: Inputs,
    opts: WatchOptions,
    shared: Shared,
    signals: Signals,
) -> Result<(), String> {
    let base = (inputs.load_model)()?;
    let mut base_model = base;
    let mut live_snaps: Vec<HostSnapshot> = Vec::new();
    let mut snaps = inputs.snapshot_files.clone();
    let mut model = compose(&base_model, &snaps);
    let mut recorder = match opts.record {
        Some(r) => Some(Recorder::new(r)?),
        None => None,
    };
    let mut src = LiveInput::new(Streams::open(specs, &opts.capture).map_err(|e| e.0)?, None);
    eprintln!("{}", opts.banner);
    let mut counter = Engine::new(model.clone(), opts.engine.clone()).without_checks();
    let mut windows = window::Windows::new(
        opts.window,
        model.clone(),
        opts.engine.clone(),
        snaps.clone(),
    );
    let snapshot_rx = inputs
        .take_snapshots
        .take()
        .map(|take| snapshot_thread(take, opts.snapshot_every, signals.stop.clone()));
    let mut last_snapshot: Option<Instant> = None;
    let started = Instant::now();
    let mut next_eval = started;
    let mut state = EvalState::default();
    // The newest packet time and when it came: the capture's clock between packets.
    let mut clock: (i64, Instant) = (i64::MIN, started);
    loop {
        let mut newest = clock.0;
        let more = src.pump(&mut |p, live| {
            newest = newest.max(p.ts);
            let here;
            let dec = match p.decoded {
                Some(d) => d,
                None => {
                    here = decode::decode(p.link, p.data);
                    &here
                }
            };
            let raw = RawPacket {
                decoded: Some(dec),
                ..*p
            };
            counter.feed(&raw);
            windows.feed(&raw);
            if let (Some(r), Some(pk)) = (recorder.as_mut(), live) {
                r.push(pk);
            }
            dec.is_ok()
        });
        let now = Instant::now();
        if newest > clock.0 {
            clock = (newest, now);
        }
        if signals.stop.load(Ordering::Relaxed)
            || opts
                .duration
                .is_some_and(|d| now.duration_since(started) >= d)
        {
            src.stop();
            return Ok(());
        }
        if !more {
            return Err("every capture point has ended; lvsdiag watch needs live interfaces (-i) or streams (--exec) that go on".into());
        }
        if signals.reload.swap(false, Ordering::Relaxed) {
            match (inputs.load_model)() {
                Ok(m) => {
                    base_model = m;
                    model = compose(&base_model, &snaps);
                    counter.set_model(model.clone());
                    windows.set_model(model.clone());
                    log(&format!(
                        "SIGHUP: configuration reloaded ({} service(s))",
                        model.services.len()
                    ));
                }
                Err(e) => log(&format!(
                    "SIGHUP: reload failed, the previous configuration stays: {e}"
                )),
            }
        }
        if let Some(rx) = &snapshot_rx {
            while let Ok(r) = rx.try_recv() {
                match r {
                    Ok(s) => {
                        last_snapshot = Some(Instant::now());
                        if format!("{s:?}") != format!("{live_snaps:?}") {
                            live_snaps = s;
                            snaps = inputs.snapshot_files.clone();
                            snaps.extend(live_snaps.iter().cloned());
                            let m = compose(&base_model, &snaps);
                            if format!("{:?}", m.services) != format!("{:?}", model.services) {
                                model = m;
                                counter.set_model(model.clone());
                                windows.set_model(model.clone());
                                log(&format!(
                                    "the live IPVS table changed: {} service(s)",
                                    model.services.len()
                                ));
                            }
                            windows.set_snapshots(snaps.clone());
                        }
                    }
                    Err(e) => log(&format!("snapshot failed: {e}")),
                }
            }
        }
        let manual = signals.record.swap(false, Ordering::Relaxed);
        if now >= next_eval || manual {
            next_eval = now + EVALUATE;
            if clock.0 != i64::MIN {
                let elapsed = i64::try_from(now.duration_since(clock.1).as_nanos()).unwrap_or(0);
                let t = clock.0.saturating_add(elapsed);
                counter.tick(t);
                windows.tick(t);
            }
            windows.rotate(now);
            let points = src.points();
            if let Some(r) = recorder.as_mut() {
                r.note_drops(&points);
            }
            let (ov, _) = windows.overview(points.clone(), now);
            let mut e = state.evaluate(&ov.analysis, &counter, &model, &points);
            e.window_seconds = Some(opts.window.as_secs_f64());
            e.snapshot_age = last_snapshot.map(|t| t.elapsed().as_secs_f64());
            let fresh = state.fresh(&ov.analysis, opts.window);
            shared.set(e);
            if let Some(r) = recorder.as_mut() {
                for (code, json) in fresh {
                    match r.write(Trigger::Finding { code, json }, &points) {
                        Ok(p) => log(&format!("recorded {}", p.display())),
                        Err(e) => log(&e),
                    }
                }
                if manual {
                    match r.write(Trigger::Signal, &points) {
                        Ok(p) => log(&format!("SIGUSR1: recorded {}", p.display())),
                        Err(e) => log(&e),
                    }
                }
            } else {
                drop(fresh);
            }
        }
    }
}

/// What the evaluations remember between them.
#[derive(Default)]
struct EvalState {
    /// When each finding that holds was first seen (wall clock).
    first_seen: BTreeMap<(String, Target), f64>,
    /// Warning-and-above findings of the last evaluation.
    current: BTreeSet<(String, Option<String>, Option<String>)>,
    /// When each was last recorded: once per window at most.
    recorded: BTreeMap<(String, Option<String>, Option<String>), Instant>,
    /// Inferred services seen in some window, for labels.
    inferred: BTreeSet<ServiceKey>,
    /// Real servers' addresses by MAC (DR and TUN connections are counted
    /// by the MAC they were sent to), as the windows' analyses learn them.
    rip: BTreeMap<decode::Mac, std::net::IpAddr>,
}

impl EvalState {
    fn evaluate(
        &mut self,
        a: &crate::engine::Analysis,
        counter: &Engine,
        model: &Model,
        points: &[crate::source::PointInfo],
    ) -> Exposition {
        let mut e = Exposition::default();
        for s in &a.services {
            if model.services.iter().all(|m| m.key != s.service.key)
                && self.inferred.len() < MAX_KNOWN_INFERRED
            {
                self.inferred.insert(s.service.key);
            }
        }
        for r in &a.real_servers {
            if let (Some(mac), Some(ip)) = (r.mac, r.ip) {
                if self.rip.len() < MAX_RIPS || self.rip.contains_key(&mac) {
                    self.rip.insert(mac, ip);
                }
            }
        }
        let rip = &self.rip;
        let configured = |k: &ServiceKey| model.services.iter().any(|m| m.key == *k);
        let rows: Vec<CensusRow> = counter
            .census()
            .into_iter()
            .filter_map(|(va, rs, st)| {
                let key = model.find(va).map_or(va.key(), |s| s.key);
                if !configured(&key) && !self.inferred.contains(&key) {
                    return None;
                }
                let rs = match rs {
                    None => None,
                    Some((RsKey::Ip(ip), port)) => Some((ip.to_string(), port)),
                    Some((RsKey::Mac(m), port)) => Some((
                        rip.get(&m)
                            .map_or_else(|| decode::fmt_mac(&m), |ip| ip.to_string()),
                        port,
                    )),
                    Some((RsKey::Unseen, _)) => return None,
                };
                Some((key, rs, st))
            })
            .collect();
        e.set_connections(rows, &configured);
        let now = wall_secs();
        let mut seen = BTreeMap::new();
        let first = &self.first_seen;
        e.set_findings(a, &|f: &FindingSeries| {
            first
                .get(&(f.code.to_string(), f.target.clone()))
                .copied()
                .unwrap_or(now)
        });
        for f in &e.findings {
            seen.insert(
                (f.code.to_string(), f.target.clone()),
                f.first_seen.unwrap_or(now),
            );
        }
        self.first_seen = seen;
        e.set_points(points);
        e.set_vrrp(counter.vrrp(), &model.keepalived);
        let vips = a
            .services
            .iter()
            .filter_map(|s| s.service.key.vip())
            .chain(model.services.iter().filter_map(|s| s.key.vip()));
        e.set_vip_owners(&counter.vip_claims(vips));
        e
    }

    /// Warning-and-above findings that were not there at the last
    /// evaluation (and not recorded within a window), with their JSON.
    fn fresh(
        &mut self,
        a: &crate::engine::Analysis,
        window: Duration,
    ) -> Vec<(&'static str, serde_json::Value)> {
        // The report's JSON only when a finding is new (rare), not every evaluation.
        let mut report: Option<serde_json::Value> = None;
        let mut now_set = BTreeSet::new();
        let mut out = Vec::new();
        for f in a
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
        {
            let key = (f.code.to_string(), f.service_label(), f.rs_label());
            now_set.insert(key.clone());
            if self.current.contains(&key)
                || self
                    .recorded
                    .get(&key)
                    .is_some_and(|t| t.elapsed() < window)
            {
                continue;
            }
            log(&format!(
                "{} ({}){}{}: {}",
                f.code,
                f.severity,
                f.service_label()
                    .map(|s| format!(" on {s}"))
                    .unwrap_or_default(),
                f.rs_label()
                    .map(|s| format!(" real server {s}"))
                    .unwrap_or_default(),
                f.summary
            ));
            self.recorded.insert(key, Instant::now());
            let report = report.get_or_insert_with(|| crate::report::json::value(a));
            let json = report["findings"]
                .as_array()
                .and_then(|fs| {
                    fs.iter().find(|j| {
                        j["code"] == f.code
                            && j["real_server"].as_str().map(str::to_string) == f.rs_label()
                    })
                })
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            out.push((f.code, json));
        }
        self.recorded.retain(|_, t| t.elapsed() < window);
        self.current = now_set;
        out
    }
}

/// Takes snapshots every `every` on its own thread (reading the kernel can
/// take a while; capture goes on meanwhile).
fn snapshot_thread(
    take: TakeSnapshots,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> Receiver<Result<Vec<HostSnapshot>, String>> {
    let (tx, rx) = channel();
    let _ = std::thread::Builder::new()
        .name("snapshot".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if tx.send(take()).is_err() {
                    return;
                }
                let until = Instant::now() + every;
                while Instant::now() < until {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        });
    rx
}
