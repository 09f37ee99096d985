//! A running analysis for the TUI and `analyze --live`: the engine on its
//! own thread, fed by files (as fast as possible, or paced at capture
//! speed) or by live sources, publishing an [`Overview`] of what it would
//! report if the input ended now. Readers take the latest; nothing the
//! engine does waits for them.

use crate::engine::{Engine, Options, Overview};
use crate::export::{self, Ring, Selector};
use crate::model::Model;
use crate::source::file::FileSource;
use crate::source::live::{CaptureOptions, Pkt, Spec, Streams};
use crate::source::merge::Merger;
use crate::source::{InputError, PointInfo};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the session last published.
pub struct Published {
    pub overview: Overview,
    /// Every source has ended: this is the final analysis.
    pub done: bool,
    /// Increases with each publication.
    pub seq: u64,
    /// Wall-clock time the analysis has been running.
    pub elapsed: Duration,
}

pub struct SessionOptions {
    pub engine: Options,
    pub capture: CaptureOptions,
    /// Replay files at this multiple of capture speed (None: as fast as possible).
    pub speed: Option<f64>,
    /// How often a running analysis is published.
    pub interval: Duration,
    /// Bytes of recent live packets kept for export.
    pub ring_bytes: usize,
    /// Host configuration snapshots for the cross-checks.
    pub snapshots: Vec<crate::system::HostSnapshot>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            engine: Options {
                keep_flows: 2000,
                ..Options::default()
            },
            capture: CaptureOptions::default(),
            speed: None,
            interval: Duration::from_millis(500),
            ring_bytes: 64 << 20,
            snapshots: Vec::new(),
        }
    }
}

enum Cmd {
    Export(Selector, PathBuf, Sender<Result<usize, String>>),
}

pub struct Session {
    latest: Arc<Mutex<Option<Arc<Published>>>>,
    cmd: Sender<Cmd>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

enum Input {
    Files(Merger),
    Streams(Streams),
}

impl Session {
    /// Opens every source (errors come back here, before any thread runs
    /// the analysis) and starts the engine.
    pub fn start(
        specs: Vec<Spec>,
        model: Model,
        opts: SessionOptions,
    ) -> Result<Session, InputError> {
        if specs.is_empty() {
            return Err(InputError(
                "no capture points: give capture files, -i IFACE or --exec NAME='COMMAND'".into(),
            ));
        }
        let input = if specs.iter().all(|s| !s.is_live()) && opts.speed.is_none() {
            let mut files = Vec::new();
            for s in specs {
                if let Spec::File { name, path } = s {
                    files.push(FileSource::open(name, &path)?);
                }
            }
            Input::Files(Merger::new(files))
        } else {
            Input::Streams(Streams::open(specs, &opts.capture)?)
        };
        let latest = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (cmd, cmd_rx) = channel();
        let thread = {
            let (latest, stop) = (latest.clone(), stop.clone());
            std::thread::Builder::new()
                .name("engine".into())
                .spawn(move || run(input, model, opts, latest, stop, cmd_rx))
                .map_err(|e| InputError(format!("cannot start the analysis thread: {e}")))?
        };
        Ok(Session {
            latest,
            cmd,
            stop,
            thread: Some(thread),
        })
    }

    pub fn latest(&self) -> Option<Arc<Published>> {
        self.latest.lock().ok().and_then(|l| l.clone())
    }

    /// Writes the selected packets to `out` as pcapng.
    pub fn export(&self, sel: Selector, out: PathBuf) -> Result<usize, String> {
        let (tx, rx) = channel();
        self.cmd
            .send(Cmd::Export(sel, out, tx))
            .map_err(|_| "the analysis has stopped".to_string())?;
        rx.recv_timeout(Duration::from_secs(120))
            .map_err(|_| "export timed out".to_string())?
    }

    /// Stops the sources and returns the final analysis (what was read so far).
    pub fn stop(mut self) -> Option<Arc<Published>> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.latest()
    }

    /// Waits until every source has ended (files read, streams closed).
    pub fn wait_done(&self, tick: Duration) -> Option<Arc<Published>> {
        loop {
            if let Some(p) = self.latest() {
                if p.done {
                    return Some(p);
                }
            }
            if self.thread.as_ref().is_none_or(|t| t.is_finished()) {
                return self.latest();
            }
            std::thread::sleep(tick);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(
    mut input: Input,
    model: Model,
    opts: SessionOptions,
    latest: Arc<Mutex<Option<Arc<Published>>>>,
    stop: Arc<AtomicBool>,
    cmds: Receiver<Cmd>,
) {
    let started = Instant::now();
    let mut engine = Engine::new(model, opts.engine.clone()).with_snapshots(opts.snapshots);
    let mut seq = 0u64;
    let mut ring = Ring::new(opts.ring_bytes);
    let mut has_live = false;
    let publish = |ov: Overview, done: bool, seq: &mut u64| {
        *seq += 1;
        let p = Arc::new(Published {
            overview: ov,
            done,
            seq: *seq,
            elapsed: started.elapsed(),
        });
        if let Ok(mut l) = latest.lock() {
            *l = Some(p);
        }
    };
    let mut last_pub = Instant::now();
    let mut points: Vec<PointInfo>;
    let mut pace = Pace::new(opts.speed);
    match &mut input {
        Input::Files(m) => {
            let mut n = 0u32;
            while let Some(p) = m.next_packet() {
                if !engine.feed(&p) {
                    let pt = p.point;
                    m.count_undecodable(pt);
                }
                n = n.wrapping_add(1);
                if n.is_multiple_of(4096) {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if last_pub.elapsed() >= opts.interval {
                        // Points' counts are known only at the end for files.
                        publish(engine.overview(m.points()), false, &mut seq);
                        last_pub = Instant::now();
                    }
                }
            }
            let Input::Files(m) = input else {
                unreachable!()
            };
            points = m.finish();
        }
        Input::Streams(s) => {
            let mut batch: Vec<Pkt> = Vec::new();
            let mut pending: std::collections::VecDeque<Pkt> = Default::default();
            let mut more = true;
            loop {
                if pending.is_empty() && more {
                    more = s.poll(Duration::from_millis(50), &mut batch);
                    pending.extend(batch.drain(..));
                }
                let now = Instant::now();
                while let Some(p) = pending.front() {
                    if pace.due(p.ts).is_some_and(|d| d > now) {
                        break;
                    }
                    let p = pending.pop_front().expect("front");
                    if !engine.feed(&p.raw()) {
                        s.count_undecodable(p.point);
                    }
                    if s.is_live(p.point) {
                        has_live = true;
                        ring.push(p);
                    }
                }
                if let Some(d) = pending.front().and_then(|p| pace.due(p.ts)) {
                    let now = Instant::now();
                    if d > now {
                        std::thread::sleep((d - now).min(Duration::from_millis(50)));
                    }
                }
                while let Ok(c) = cmds.try_recv() {
                    handle(c, &s.points(), Some(&ring));
                }
                if stop.load(Ordering::Relaxed) || (!more && pending.is_empty()) {
                    break;
                }
                if last_pub.elapsed() >= opts.interval {
                    publish(engine.overview(s.points()), false, &mut seq);
                    last_pub = Instant::now();
                }
            }
            // What the readers sent before they stopped.
            s.stop();
            s.drain(&mut batch);
            for p in pending.drain(..).chain(batch.drain(..)) {
                if !engine.feed(&p.raw()) {
                    s.count_undecodable(p.point);
                }
                if s.is_live(p.point) {
                    has_live = true;
                    ring.push(p);
                }
            }
            points = s.points();
        }
    }
    for p in &mut points {
        if let Some(l) = &mut p.live {
            l.running = false;
        }
    }
    let final_points = points.clone();
    publish(engine.finish_overview(points), true, &mut seq);
    // Serve exports until the session is dropped.
    while !stop.load(Ordering::Relaxed) {
        match cmds.recv_timeout(Duration::from_millis(100)) {
            Ok(c) => handle(c, &final_points, has_live.then_some(&ring)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => break,
        }
    }
}

fn handle(c: Cmd, points: &[PointInfo], ring: Option<&Ring>) {
    match c {
        Cmd::Export(sel, path, reply) => {
            let _ = reply.send(export::export(points, ring, &sel, &path));
        }
    }
}

/// Replays at capture speed (times `speed`): waits until a packet is due.
struct Pace {
    speed: Option<f64>,
    origin: Option<(i64, Instant)>,
}

impl Pace {
    fn new(speed: Option<f64>) -> Pace {
        Pace {
            speed: speed.filter(|s| *s > 0.0),
            origin: None,
        }
    }

    /// When the packet with capture time `ts` is due (None: not paced).
    fn due(&mut self, ts: i64) -> Option<Instant> {
        let speed = self.speed?;
        let (t0, w0) = *self.origin.get_or_insert((ts, Instant::now()));
        let offset = ((ts - t0).max(0) as f64 / speed).min(1e15) as u64;
        Some(w0 + Duration::from_nanos(offset))
    }
}
