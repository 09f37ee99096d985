//! A running analysis for the TUI and `analyze --live`: the engine on its
//! own thread, fed by files (as fast as possible, or paced at capture
//! speed) or by live sources, publishing an [`Overview`] of what it would
//! report if the input ended now. Readers take the latest; nothing the
//! engine does waits for them.

use crate::drive::{drive, Control};
use crate::engine::{Engine, Options, Overview};
use crate::export::{self, Ring, Selector};
use crate::model::Model;
use crate::source::file::FileSource;
use crate::source::live::{CaptureOptions, LiveInput, Spec, Streams};
use crate::source::merge::Merger;
use crate::source::{InputError, PacketSource, PointInfo};
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
    /// Files being read: bytes read so far of their total size (pcapng
    /// block overhead is not counted, so it is an estimate below 100%).
    pub read: Option<(u64, u64)>,
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
        let file_bytes = specs.iter().all(|s| !s.is_live()).then(|| {
            specs
                .iter()
                .filter_map(|s| match s {
                    Spec::File { path, .. } => std::fs::metadata(path).ok().map(|m| m.len()),
                    _ => None,
                })
                .sum::<u64>()
        });
        let input: Box<dyn PacketSource + Send> =
            if specs.iter().all(|s| !s.is_live()) && opts.speed.is_none() {
                let mut files = Vec::new();
                for s in specs {
                    if let Spec::File { name, path } = s {
                        files.push(FileSource::open(name, &path)?);
                    }
                }
                Box::new(Merger::new(files))
            } else {
                Box::new(LiveInput::new(
                    Streams::open(specs, &opts.capture)?,
                    opts.speed,
                ))
            };
        let latest = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (cmd, cmd_rx) = channel();
        let thread = {
            let (latest, stop) = (latest.clone(), stop.clone());
            std::thread::Builder::new()
                .name("engine".into())
                .spawn(move || run(input, file_bytes, model, opts, latest, stop, cmd_rx))
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
    input: Box<dyn PacketSource + Send>,
    file_bytes: Option<u64>,
    model: Model,
    opts: SessionOptions,
    latest: Arc<Mutex<Option<Arc<Published>>>>,
    stop: Arc<AtomicBool>,
    cmds: Receiver<Cmd>,
) {
    let started = Instant::now();
    let mut engine = Engine::new(model, opts.engine.clone()).with_snapshots(opts.snapshots);
    let mut seq = 0u64;
    // Live packets kept for export: filled as they pass, read by exports.
    let ring = std::cell::RefCell::new(Ring::new(opts.ring_bytes));
    let mut has_live = false;
    // Record header plus captured bytes: where the readers are in the files.
    let read = std::cell::Cell::new(0u64);
    let publish = |ov: Overview, done: bool, seq: &mut u64| {
        *seq += 1;
        let p = Arc::new(Published {
            overview: ov,
            done,
            seq: *seq,
            elapsed: started.elapsed(),
            read: file_bytes.map(|t| (read.get().min(t), t)),
        });
        if let Ok(mut l) = latest.lock() {
            *l = Some(p);
        }
    };
    let mut last_pub = Instant::now();
    let mut gap = opts.interval;
    let points = drive(
        input,
        &mut engine,
        &mut |p, live| match live {
            Some(p) => {
                has_live = true;
                ring.borrow_mut().push(p.clone());
            }
            None => read.set(read.get() + 16 + p.data.len() as u64),
        },
        &mut |engine, src| {
            while let Ok(c) = cmds.try_recv() {
                handle(c, &src.points(), Some(&ring.borrow()));
            }
            if stop.load(Ordering::Relaxed) {
                return Control::Stop;
            }
            if last_pub.elapsed() >= gap {
                let t = Instant::now();
                publish(engine.overview(src.points()), false, &mut seq);
                last_pub = Instant::now();
                // Publishing looks at every live flow: at most a tenth of
                // the engine's time, however many there are.
                gap = opts.interval.max(t.elapsed() * 10);
            }
            Control::Go
        },
    );
    let final_points = points.clone();
    publish(engine.finish_overview(points), true, &mut seq);
    // Serve exports until the session is dropped.
    while !stop.load(Ordering::Relaxed) {
        match cmds.recv_timeout(Duration::from_millis(100)) {
            Ok(c) => handle(c, &final_points, has_live.then_some(&ring.borrow())),
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
