//! The merged, time-ordered stream of every open point: opening them on
//! their threads, taking their batches, and their state for the report.

use super::*;

/// The merged, time-ordered stream of every open point.
pub struct Streams {
    pub(super) rx: Receiver<Batch>,
    pub(super) infos: Vec<PointInfo>,
    pub(super) shared: Vec<Arc<Shared>>,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) threads: Vec<JoinHandle<()>>,
    pub(super) reorder: Reorder,
    pub(super) queued_bytes: Arc<AtomicUsize>,
    pub(super) inflight: Arc<AtomicUsize>,
    /// Per point: its reader's end has come through the channel.
    pub(super) ended: Vec<bool>,
    pub(super) disconnected: bool,
    /// Per point.
    pub(super) undecodable: Vec<u64>,
    /// Per point: the reader (index into `shared`) that delivers it, and
    /// which of that reader's points it is (a pcapng file's interface).
    pub(super) owner: Vec<(usize, usize)>,
    /// Per point: packets released to the analysis.
    pub(super) released: Vec<u64>,
}

impl Streams {
    /// Opens every point, each on its own thread; fails with the first
    /// point that cannot be opened (no such interface, no permission,
    /// unknown netns, not a capture).
    pub fn open(specs: Vec<Spec>, opts: &CaptureOptions) -> Result<Streams, InputError> {
        if specs.len() > usize::from(u16::MAX) {
            return Err(InputError("too many capture points (at most 65535)".into()));
        }
        let (tx, rx) = sync_channel::<Batch>(CHANNEL_BATCHES);
        let stop = Arc::new(AtomicBool::new(false));
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let inflight = Arc::new(AtomicUsize::new(0));
        let mut s = Streams {
            rx,
            infos: Vec::new(),
            shared: Vec::new(),
            stop: stop.clone(),
            threads: Vec::new(),
            reorder: Reorder::new(0, Instant::now()),
            queued_bytes: queued_bytes.clone(),
            inflight: inflight.clone(),
            ended: Vec::new(),
            disconnected: false,
            undecodable: Vec::new(),
            owner: Vec::new(),
            released: Vec::new(),
        };
        for (i, spec) in specs.into_iter().enumerate() {
            let shared = Arc::new(Shared::default());
            shared.running.store(true, Ordering::Relaxed);
            let (ready_tx, ready_rx) = sync_channel::<Result<LinkType, InputError>>(1);
            let name = spec.name().to_string();
            let what = spec.what();
            let live = spec.is_live();
            let base = s.infos.len();
            // A file is opened here: a pcapng with several interfaces is
            // several points, known before its reader starts.
            let (file, file_points) = match &spec {
                Spec::File { name, path } => match FileSource::open(name.clone(), path) {
                    Ok(f) => {
                        let pts = f.points();
                        (Some(f), pts)
                    }
                    Err(e) => {
                        s.stop();
                        return Err(e);
                    }
                },
                _ => (None, Vec::new()),
            };
            let n_points = file_points.len().max(1);
            if base + n_points > usize::from(u16::MAX) {
                s.stop();
                return Err(InputError("too many capture points (at most 65535)".into()));
            }
            let t = {
                let (tx, end_tx, stop, shared, opts, queued, inflight) = (
                    tx.clone(),
                    tx.clone(),
                    stop.clone(),
                    shared.clone(),
                    opts.clone(),
                    queued_bytes.clone(),
                    inflight.clone(),
                );
                std::thread::Builder::new()
                    .name(format!("capture-{i}"))
                    .spawn(move || {
                        let send = Sender {
                            point: base as u16,
                            points: base as u16..(base + n_points) as u16,
                            tx,
                            shared: &shared,
                            stop: &stop,
                            lossy: matches!(spec, Spec::Interface { .. }),
                            batch: Vec::with_capacity(BATCH_MAX),
                            bytes: Vec::new(),
                            pool: Vec::new(),
                            batch_bytes: 0,
                            span: None,
                            first_at: None,
                            frame: 0,
                            queued: &queued,
                            inflight: &inflight,
                        };
                        match file {
                            Some(f) => read_file(f, send),
                            None => read_point(spec, &opts, send, ready_tx),
                        }
                        // The end goes through the channel behind the last
                        // batch, so the merge never mistakes "ended" for
                        // "delivered everything" before it has.
                        let mut end = Batch {
                            points: base as u16..(base + n_points) as u16,
                            arrived: Instant::now(),
                            pkts: Vec::new(),
                            upto: i64::MAX,
                        };
                        while !stop.load(Ordering::Relaxed) {
                            match end_tx.try_send(end) {
                                Ok(()) => {
                                    inflight.fetch_add(1, Ordering::Relaxed);
                                    break;
                                }
                                Err(TrySendError::Full(back)) => {
                                    end = back;
                                    std::thread::sleep(Duration::from_millis(2));
                                }
                                Err(TrySendError::Disconnected(_)) => break,
                            }
                        }
                        shared.running.store(false, Ordering::Relaxed);
                    })
                    .map_err(|e| InputError(format!("cannot start a capture thread: {e}")))?
            };
            s.threads.push(t);
            if !file_points.is_empty() {
                for (sub, p) in file_points.into_iter().enumerate() {
                    s.infos.push(p);
                    s.owner.push((s.shared.len(), sub));
                    s.undecodable.push(0);
                    s.released.push(0);
                }
                s.shared.push(shared);
                continue;
            }
            let link = match ready_rx.recv() {
                Ok(Ok(l)) => l,
                Ok(Err(e)) => {
                    s.stop();
                    return Err(e);
                }
                Err(_) => {
                    s.stop();
                    return Err(InputError(format!(
                        "{name}: capture thread failed to start"
                    )));
                }
            };
            s.infos.push(PointInfo {
                name,
                path: None,
                link_type: link,
                packets: 0,
                undecodable: 0,
                error: None,
                live: live.then(|| LiveInfo {
                    what,
                    running: true,
                    ..Default::default()
                }),
                losses: Vec::new(),
            });
            s.owner.push((s.shared.len(), 0));
            s.shared.push(shared);
            s.undecodable.push(0);
            s.released.push(0);
        }
        crate::source::merge::unique_names(&mut s.infos);
        s.reorder = Reorder::new(s.infos.len(), Instant::now());
        s.ended = vec![false; s.infos.len()];
        Ok(s)
    }

    /// Waits up to `timeout` and appends to `out` the packets that are due,
    /// in time order. Returns `false` once every point has ended and all
    /// packets were delivered.
    pub fn poll(&mut self, timeout: Duration, out: &mut Vec<Pkt>) -> bool {
        let deadline = Instant::now() + timeout;
        let mut got = false;
        while !self.disconnected {
            // Block only while nothing has come yet; then take what is queued.
            let r = if got {
                self.rx.try_recv().map_err(|e| match e {
                    std::sync::mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
                    std::sync::mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                })
            } else {
                self.rx
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            };
            match r {
                Ok(b) => {
                    got = true;
                    self.take(b);
                    if self.reorder.queued() >= reorder::QUEUED_MAX {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => self.disconnected = true,
            }
        }
        let running: Vec<bool> = self.ended.iter().map(|e| !e).collect();
        let before = out.len();
        self.reorder
            .release(Instant::now(), &running, self.disconnected, out);
        self.released(&out[before..]);
        !(self.disconnected && self.reorder.queued() == 0)
    }

    /// Takes a batch into the merge. Its time there counts from now: a
    /// batch that waited in the channel while the analysis was busy has not
    /// been held, and its point was not idle.
    pub(super) fn take(&mut self, mut b: Batch) {
        self.inflight.fetch_sub(1, Ordering::Relaxed);
        b.arrived = Instant::now();
        if b.upto == i64::MAX {
            for i in b.points.clone() {
                if let Some(e) = self.ended.get_mut(usize::from(i)) {
                    *e = true;
                }
            }
        }
        self.reorder.take(b);
    }

    pub(super) fn released(&mut self, pkts: &[Pkt]) {
        let mut bytes = 0;
        for p in pkts {
            bytes += p.data().len() + PKT_OVERHEAD;
            if let Some(r) = self.released.get_mut(usize::from(p.point)) {
                *r += 1;
            }
        }
        self.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// After [`Streams::stop`]: everything still queued, in time order.
    pub fn drain(&mut self, out: &mut Vec<Pkt>) {
        while let Ok(b) = self.rx.try_recv() {
            self.take(b);
        }
        let before = out.len();
        self.reorder.release(Instant::now(), &[], true, out);
        self.released(&out[before..]);
    }

    pub fn count_undecodable(&mut self, point: u16) {
        if let Some(u) = self.undecodable.get_mut(usize::from(point)) {
            *u += 1;
        }
    }

    /// Whether the point is a live interface or command (not a file).
    pub fn is_live(&self, point: u16) -> bool {
        self.infos
            .get(usize::from(point))
            .is_some_and(|i| i.live.is_some())
    }

    /// Every point's info as of now (packets, drops, running, error).
    pub fn points(&self) -> Vec<PointInfo> {
        self.infos
            .iter()
            .enumerate()
            .map(|(i, info)| {
                let (o, sub) = self.owner[i];
                let s = &self.shared[o];
                let first = sub == 0;
                let mut i_ = info.clone();
                i_.undecodable = self.undecodable[i];
                if let Some(l) = &mut i_.live {
                    i_.packets = s.packets.load(Ordering::Relaxed);
                    l.kernel_drops = s.kernel_drops.load(Ordering::Relaxed);
                    l.interface_drops = s.interface_drops.load(Ordering::Relaxed);
                    l.lvsdiag_drops = s.lvsdiag_drops.load(Ordering::Relaxed);
                    l.running = s.running.load(Ordering::Relaxed);
                } else {
                    i_.packets = self.released[i];
                }
                // A file's own view once it is read (per-interface losses).
                if let Some(fp) = s.file_points.lock().ok().and_then(|f| f.get(sub).cloned()) {
                    i_.losses = fp.losses;
                } else if first {
                    i_.losses = s.losses.lock().map(|l| l.clone()).unwrap_or_default();
                }
                if first {
                    i_.error = s.error.lock().map(|e| e.clone()).unwrap_or(None);
                }
                i_
            })
            .collect()
    }

    /// Stops every reader (a command's processes are terminated) and waits
    /// for them. What they had sent can still be polled.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for s in &self.shared {
            let pgid = s.pgid.load(Ordering::Relaxed);
            if pgid > 0 {
                // SAFETY: signals the command's own process group.
                unsafe {
                    libc::kill(-(pgid as libc::pid_t), libc::SIGTERM);
                }
            }
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Streams {
    fn drop(&mut self) {
        self.stop();
    }
}
