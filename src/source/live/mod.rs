//! Live sources: interfaces (optionally inside a network namespace), pcap
//! streams from a command's stdout (`ssh rs1 tcpdump -U -w -`), and files
//! replayed beside them. Each is read on its own thread; packets travel in
//! batches through one bounded channel and are put back in time order by a
//! short reorder buffer. A live interface never waits for the analysis: when
//! the channel is full its batch is dropped and counted; streams and files
//! wait instead (nothing is lost).

use super::file::FileSource;
use super::{InputError, LiveInfo, Loss, LossCause, PointInfo};
use crate::decode::LinkType;
use crate::text::sanitize;
use pcap::{Capture, Precision};
use std::io::Read;
use std::os::fd::IntoRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

mod input;
mod reorder;

pub use input::LiveInput;
use reorder::{Batch, Reorder};
use std::time::{Duration, Instant};

/// One capture point to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    File {
        name: String,
        path: PathBuf,
    },
    Interface {
        name: String,
        iface: String,
        netns: Option<String>,
    },
    Command {
        name: String,
        command: String,
    },
}

impl Spec {
    pub fn name(&self) -> &str {
        match self {
            Spec::File { name, .. } | Spec::Interface { name, .. } | Spec::Command { name, .. } => {
                name
            }
        }
    }

    pub fn is_live(&self) -> bool {
        !matches!(self, Spec::File { .. })
    }

    /// Parses `-i [NAME=]IFACE[@NETNS]`; `netns` is the `--netns` default.
    pub fn interface(arg: &str, netns: Option<&str>) -> Result<Spec, InputError> {
        let (name, rest) = match arg.split_once('=') {
            Some((n, r)) if !n.is_empty() => (Some(n), r),
            _ => (None, arg),
        };
        let (iface, ns) = match rest.split_once('@') {
            Some((i, n)) => (i, Some(n)),
            None => (rest, netns),
        };
        if iface.is_empty() || iface.len() > 15 || iface.contains('/') {
            return Err(InputError(format!(
                "-i {}: not an interface name; give -i [NAME=]IFACE[@NETNS], e.g. -i eth0 or -i rs1=eth0@rs1",
                sanitize(arg)
            )));
        }
        if ns.is_some_and(|n| n.is_empty() || n.contains('/')) {
            return Err(InputError(format!(
                "-i {}: not a network namespace name (as listed by ip netns list)",
                sanitize(arg)
            )));
        }
        let name = match (name, ns) {
            (Some(n), _) => n.to_string(),
            (None, Some(ns)) => format!("{ns}-{iface}"),
            (None, None) => iface.to_string(),
        };
        Ok(Spec::Interface {
            name: sanitize(&name),
            iface: iface.to_string(),
            netns: ns.map(str::to_string),
        })
    }

    /// Parses `--exec NAME='COMMAND'`.
    pub fn command(arg: &str) -> Result<Spec, InputError> {
        match arg.split_once('=') {
            Some((n, c)) if !n.is_empty() && !c.trim().is_empty() && !n.contains(' ') => {
                Ok(Spec::Command {
                    name: sanitize(n),
                    command: c.to_string(),
                })
            }
            _ => Err(InputError(format!(
                "--exec {}: give NAME='COMMAND', e.g. --exec rs1='ssh rs1 tcpdump -U -i eth0 -w -'",
                sanitize(arg)
            ))),
        }
    }

    fn what(&self) -> String {
        match self {
            Spec::File { path, .. } => sanitize(&path.display().to_string()),
            Spec::Interface {
                iface,
                netns: Some(ns),
                ..
            } => format!("{} in netns {}", sanitize(iface), sanitize(ns)),
            Spec::Interface { iface, .. } => sanitize(iface),
            Spec::Command { command, .. } => sanitize(command),
        }
    }
}

/// Capture settings shared by every live point.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// BPF capture filter (tcpdump syntax), applied to live interfaces.
    pub filter: Option<String>,
    pub snaplen: i32,
    /// libpcap's kernel buffer per interface.
    pub buffer_bytes: i32,
}

/// Bytes kept of each packet by default: every header the checks read
/// (Ethernet, two VLAN tags, an outer and an inner IPv6 header for TUN, TCP
/// with options, an ICMP error quoting all of that, VRRP with dozens of
/// addresses) fits; payloads are not needed to diagnose LVS and are not
/// copied, kept for export or written by `capture` (`-s 0`: whole packets).
pub const DEFAULT_SNAPLEN: i32 = 512;
/// The largest snap length libpcap takes; `-s 0` means this.
pub const MAX_SNAPLEN: i32 = 262_144;
/// The kernel ring per live interface by default (tcpdump's is 2 MiB):
/// about 100 ms of 1 M packets/s of small packets, so that a busy moment
/// of the analysis (a TUI refresh) does not drop packets.
pub const DEFAULT_BUFFER_KIB: i32 = 16 * 1024;

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            filter: None,
            snaplen: DEFAULT_SNAPLEN,
            buffer_bytes: DEFAULT_BUFFER_KIB * 1024,
        }
    }
}

/// A BPF filter for the traffic of these VIPs and real servers, and what
/// the checks read beside it (ARP and neighbour discovery, ICMP errors,
/// VRRP), tagged or not. Too many addresses: none (everything is kept).
pub fn filter_for(addrs: &[std::net::IpAddr]) -> Option<String> {
    if addrs.is_empty() || addrs.len() > 64 {
        return None;
    }
    let hosts: Vec<String> = addrs.iter().map(|a| format!("host {a}")).collect();
    let inner = format!("arp or icmp or icmp6 or vrrp or {}", hosts.join(" or "));
    Some(format!("{inner} or (vlan and ({inner}))"))
}

/// One packet, owned: its bytes live in the buffer of the batch it was
/// read in (shared, so a batch costs one allocation, not one per packet).
#[derive(Debug, Clone)]
pub struct Pkt {
    pub point: u16,
    pub frame: u64,
    pub ts: i64,
    pub link: LinkType,
    pub wire_len: u32,
    buf: Arc<Vec<u8>>,
    start: u32,
    end: u32,
    /// Its share of the memory its buffer takes, for bounds that count bytes.
    pub cost: u32,
}

impl Pkt {
    /// A packet with a buffer of its own.
    pub fn new(point: u16, frame: u64, ts: i64, link: LinkType, wire_len: u32, data: &[u8]) -> Pkt {
        Pkt {
            point,
            frame,
            ts,
            link,
            wire_len,
            start: 0,
            end: data.len() as u32,
            cost: data.len() as u32 + 48,
            buf: Arc::new(data.to_vec()),
        }
    }

    pub fn data(&self) -> &[u8] {
        &self.buf[self.start as usize..self.end as usize]
    }

    pub fn raw(&self) -> super::RawPacket<'_> {
        super::RawPacket {
            point: self.point,
            frame: self.frame,
            ts: self.ts,
            link: self.link,
            data: self.data(),
            wire_len: self.wire_len,
            decoded: None,
        }
    }
}

/// A packet waiting in a reader's batch: where its bytes are in the buffer.
#[derive(Debug, Clone, Copy)]
struct Pending {
    point: u16,
    frame: u64,
    ts: i64,
    link: LinkType,
    wire_len: u32,
    start: u32,
    end: u32,
}

/// Counters a reader thread shares with the consumer.
#[derive(Default)]
struct Shared {
    packets: AtomicU64,
    kernel_drops: AtomicU64,
    interface_drops: AtomicU64,
    lvsdiag_drops: AtomicU64,
    running: AtomicBool,
    error: Mutex<Option<String>>,
    /// When packets were lost, for the checks that rest on absences.
    losses: Mutex<Vec<Loss>>,
    /// A file's points as its reader left them (losses per interface).
    file_points: Mutex<Vec<PointInfo>>,
    /// A command's process group, to end it on stop.
    pgid: std::sync::atomic::AtomicU32,
}

impl Shared {
    fn lost(&self, l: Loss) {
        if let Ok(mut v) = self.losses.lock() {
            super::add_loss(&mut v, l);
        }
    }
}

/// A batch goes to the merge when it holds this many packets or bytes...
const BATCH_MAX: usize = 1024;
const BATCH_BYTES: usize = 256 << 10;
/// Buffers a reader keeps to reuse.
const POOL_BUFFERS: usize = 16;
/// ... or when its first packet has waited this long.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// Batches in flight between the readers and the merge.
const CHANNEL_BATCHES: usize = 1024;
/// Bytes of packets in flight and waiting in the merge, all points
/// together; past this a live interface's batch is dropped (and counted).
const QUEUED_BYTES_MAX: usize = 256 << 20;
/// Per-packet bookkeeping counted against [`QUEUED_BYTES_MAX`].
const PKT_OVERHEAD: usize = 64;
/// libpcap's ring timeout for live interfaces (TPACKET_V3 block retire
/// time): a quiet interface's packets reach the reader within this.
const BLOCK_TIMEOUT_MS: i32 = 20;
/// How long after capture an interface's packets may still reach the
/// reader (a block in the ring is handed over when full or after
/// [`BLOCK_TIMEOUT_MS`]); a heartbeat vouches for nothing younger.
const HEARTBEAT_LAG: Duration = Duration::from_millis(2 * BLOCK_TIMEOUT_MS as u64 + 10);
/// How often interface statistics (drops) are read.
const STATS_EVERY: Duration = Duration::from_millis(100);

/// The merged, time-ordered stream of every open point.
pub struct Streams {
    rx: Receiver<Batch>,
    infos: Vec<PointInfo>,
    shared: Vec<Arc<Shared>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    reorder: Reorder,
    queued_bytes: Arc<AtomicUsize>,
    inflight: Arc<AtomicUsize>,
    /// Per point: its reader's end has come through the channel.
    ended: Vec<bool>,
    disconnected: bool,
    /// Per point.
    undecodable: Vec<u64>,
    /// Per point: the reader (index into `shared`) that delivers it, and
    /// which of that reader's points it is (a pcapng file's interface).
    owner: Vec<(usize, usize)>,
    /// Per point: packets released to the analysis.
    released: Vec<u64>,
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
        super::merge::unique_names(&mut s.infos);
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
    fn take(&mut self, mut b: Batch) {
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

    fn released(&mut self, pkts: &[Pkt]) {
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

fn wall_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Sends batches to the consumer, by count and by age: live interfaces
/// drop (and count) when it cannot keep up; streams and files wait.
struct Sender<'a> {
    /// The point of the next packet.
    point: u16,
    /// Every point this reader delivers.
    points: std::ops::Range<u16>,
    tx: SyncSender<Batch>,
    shared: &'a Shared,
    stop: &'a AtomicBool,
    lossy: bool,
    batch: Vec<Pending>,
    /// The bytes of the batch's packets, one after the other.
    bytes: Vec<u8>,
    /// Buffers handed over, taken back once the analysis has let go of
    /// them: no allocation (and no fresh pages) per batch.
    pool: Vec<Arc<Vec<u8>>>,
    batch_bytes: usize,
    /// The first and newest packet time so far.
    span: Option<(i64, i64)>,
    /// When the batch's first packet was read.
    first_at: Option<Instant>,
    frame: u64,
    queued: &'a AtomicUsize,
    /// Batches sent and not yet taken by the merge (all readers).
    inflight: &'a AtomicUsize,
}

impl Sender<'_> {
    fn push(&mut self, ts: i64, link: LinkType, wire_len: u32, data: &[u8]) {
        self.frame += 1;
        self.shared.packets.fetch_add(1, Ordering::Relaxed);
        self.first_at.get_or_insert_with(Instant::now);
        self.span = Some(self.span.map_or((ts, ts), |(a, b)| (a.min(ts), b.max(ts))));
        self.batch_bytes += data.len() + PKT_OVERHEAD;
        if self.bytes.capacity() == 0 {
            self.bytes = self.spare_buffer();
        }
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(data);
        self.batch.push(Pending {
            point: self.point,
            frame: self.frame,
            ts,
            link,
            wire_len,
            start,
            end: self.bytes.len() as u32,
        });
        if self.batch.len() >= BATCH_MAX || self.bytes.len() >= BATCH_BYTES {
            self.flush();
        }
    }

    /// A buffer no packet refers to any more, or a new one.
    fn spare_buffer(&mut self) -> Vec<u8> {
        // Only this thread holds the pool's references; a count of one means
        // no packet is left that could be cloned.
        if let Some(i) = self.pool.iter().position(|b| Arc::strong_count(b) == 1) {
            if let Ok(mut v) = Arc::try_unwrap(self.pool.swap_remove(i)) {
                v.clear();
                return v;
            }
        }
        Vec::with_capacity(BATCH_BYTES)
    }

    /// Tells the consumer this point is caught up: it will send nothing
    /// captured before `upto`. Skipped when the channel is full.
    fn heartbeat(&mut self, upto: i64) {
        // Never past a packet still waiting in the batch.
        let upto = self
            .batch
            .iter()
            .map(|p| p.ts.saturating_sub(1))
            .min()
            .map_or(upto, |t| t.min(upto));
        if self
            .tx
            .try_send(Batch {
                points: self.points.clone(),
                arrived: Instant::now(),
                pkts: Vec::new(),
                upto,
            })
            .is_ok()
        {
            self.inflight.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How long until the batch is due by age (None: it is empty).
    fn due_in(&self) -> Option<Duration> {
        self.first_at
            .map(|t| FLUSH_EVERY.saturating_sub(t.elapsed()))
    }

    fn flush_due(&mut self) {
        if self.due_in().is_some_and(|d| d.is_zero()) {
            self.flush();
        }
    }

    /// `false` when the consumer is gone.
    fn flush(&mut self) -> bool {
        self.first_at = None;
        if self.batch.is_empty() {
            return true;
        }
        let mut bytes_buf = std::mem::take(&mut self.bytes);
        // A quiet interface's few packets should not keep a large buffer
        // alive (the export ring may hold them for long).
        if bytes_buf.len() * 4 < bytes_buf.capacity() {
            bytes_buf.shrink_to_fit();
        }
        let cost = (bytes_buf.capacity() / self.batch.len().max(1) + 48) as u32;
        let buf = Arc::new(bytes_buf);
        if self.pool.len() < POOL_BUFFERS {
            self.pool.push(buf.clone());
        }
        let pkts: Vec<Pkt> = self
            .batch
            .drain(..)
            .map(|p| Pkt {
                point: p.point,
                frame: p.frame,
                ts: p.ts,
                link: p.link,
                wire_len: p.wire_len,
                buf: buf.clone(),
                start: p.start,
                end: p.end,
                cost,
            })
            .collect();
        let bytes = std::mem::take(&mut self.batch_bytes);
        let upto = pkts.iter().map(|p| p.ts).max().unwrap_or(i64::MIN);
        let b = Batch {
            points: self.points.clone(),
            arrived: Instant::now(),
            upto,
            pkts,
        };
        if self.lossy {
            let over = self.queued.load(Ordering::Relaxed) + bytes > QUEUED_BYTES_MAX;
            let r = if over {
                Err(TrySendError::Full(b))
            } else {
                self.queued.fetch_add(bytes, Ordering::Relaxed);
                self.tx.try_send(b).inspect_err(|_| {
                    self.queued.fetch_sub(bytes, Ordering::Relaxed);
                })
            };
            match r {
                Ok(()) => {
                    self.inflight.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(TrySendError::Full(b)) => {
                    let n = b.pkts.len() as u64;
                    self.shared.lvsdiag_drops.fetch_add(n, Ordering::Relaxed);
                    let from = b.pkts.iter().map(|p| p.ts).min().unwrap_or(upto);
                    self.shared.lost(Loss {
                        from,
                        to: upto,
                        packets: Some(n),
                        cause: LossCause::Lvsdiag,
                    });
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        } else {
            // Files and streams wait instead of dropping, and leave half the
            // room (channel and bytes) to live interfaces, which cannot wait.
            while self.inflight.load(Ordering::Relaxed) >= CHANNEL_BATCHES / 2
                || self.queued.load(Ordering::Relaxed) + bytes > QUEUED_BYTES_MAX / 2
            {
                if self.stop.load(Ordering::Relaxed) {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            self.queued.fetch_add(bytes, Ordering::Relaxed);
            let mut b = b;
            loop {
                match self.tx.try_send(b) {
                    Ok(()) => {
                        self.inflight.fetch_add(1, Ordering::Relaxed);
                        return true;
                    }
                    Err(TrySendError::Full(back)) => {
                        if self.stop.load(Ordering::Relaxed) {
                            return false;
                        }
                        b = back;
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(TrySendError::Disconnected(_)) => return false,
                }
            }
        }
    }

    fn fail(&self, msg: String) {
        if let Ok(mut e) = self.shared.error.lock() {
            *e = Some(msg);
        }
    }
}

fn read_point(
    spec: Spec,
    opts: &CaptureOptions,
    mut send: Sender<'_>,
    ready: SyncSender<Result<LinkType, InputError>>,
) {
    match spec {
        // Files are opened by Streams::open and read by read_file.
        Spec::File { .. } => {}
        Spec::Interface { name, iface, netns } => {
            read_interface(&name, &iface, netns.as_deref(), opts, &mut send, ready)
        }
        Spec::Command { name, command } => read_command(&name, &command, &mut send, ready),
    }
}

/// Replays a file beside live points, as fast as the merge takes it; a
/// pcapng file's packets go to the point of their interface.
fn read_file(mut src: FileSource, mut send: Sender<'_>) {
    let base = send.point;
    let mut buf = Vec::with_capacity(2048);
    while !send.stop.load(Ordering::Relaxed) {
        buf.clear();
        if !src.advance(&mut buf) {
            break;
        }
        // One push per packet read: the sender's frame count is the file's.
        send.point = base + src.iface;
        send.push(src.ts, src.link, src.wire_len, &buf);
    }
    send.flush();
    if let Some(e) = src.info.error.clone() {
        send.fail(e);
    }
    if let Ok(mut f) = send.shared.file_points.lock() {
        *f = src.points();
    }
}

/// Enters network namespace `ns` on this thread only.
pub fn enter_netns(ns: &str) -> Result<(), String> {
    let path = ["/run/netns", "/var/run/netns"]
        .iter()
        .map(|d| PathBuf::from(d).join(ns))
        .find(|p| p.exists())
        .ok_or_else(|| {
            format!(
                "unknown network namespace {} (no /run/netns/{}); list them with ip netns list",
                sanitize(ns),
                sanitize(ns)
            )
        })?;
    let f = std::fs::File::open(&path).map_err(|e| {
        format!(
            "cannot open network namespace {}: {e}; run as root",
            sanitize(ns)
        )
    })?;
    use std::os::fd::AsRawFd;
    // SAFETY: setns on a valid fd; affects only the calling thread's netns.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EPERM) {
            format!(
                "entering network namespace {} needs root (CAP_SYS_ADMIN); run with sudo",
                sanitize(ns)
            )
        } else {
            format!("cannot enter network namespace {}: {e}", sanitize(ns))
        });
    }
    Ok(())
}

/// Whether `iface` exists in this thread's network namespace (needs no
/// privilege: `if_nametoindex` is an ioctl on an ordinary socket).
fn interface_exists(iface: &str) -> bool {
    if iface == "any" {
        return true;
    }
    let Ok(c) = std::ffi::CString::new(iface) else {
        return false;
    };
    // SAFETY: c is a valid NUL-terminated string for the duration of the call.
    unsafe { libc::if_nametoindex(c.as_ptr()) != 0 }
}

fn open_error(name: &str, iface: &str, netns: Option<&str>, e: pcap::Error) -> InputError {
    let msg = match e {
        pcap::Error::PcapError(s) => s,
        other => other.to_string(),
    };
    let whr = netns.map_or(String::new(), |n| format!(" in netns {}", sanitize(n)));
    let low = msg.to_ascii_lowercase();
    // Without privilege libpcap fails on the socket before it looks up the
    // device, so a missing interface would read as a permission problem.
    let missing =
        low.contains("no such device") || low.contains("doesn't exist") || !interface_exists(iface);
    InputError(if missing {
        format!(
            "{}: no interface {}{whr}; list interfaces with ip link{}",
            sanitize(name),
            sanitize(iface),
            netns.map_or(String::new(), |n| format!(" (ip -n {} link)", sanitize(n)))
        )
    } else if low.contains("permission") || low.contains("not permitted") {
        format!(
            "{}: capturing on {}{whr} needs root or CAP_NET_RAW and CAP_NET_ADMIN; run with sudo, or: sudo setcap cap_net_raw,cap_net_admin=eip $(command -v lvsdiag)",
            sanitize(name),
            sanitize(iface)
        )
    } else {
        format!(
            "{}: cannot capture on {}{whr}: {}",
            sanitize(name),
            sanitize(iface),
            sanitize(&msg)
        )
    })
}

fn read_interface(
    name: &str,
    iface: &str,
    netns: Option<&str>,
    opts: &CaptureOptions,
    send: &mut Sender<'_>,
    ready: SyncSender<Result<LinkType, InputError>>,
) {
    if let Some(ns) = netns {
        if let Err(e) = enter_netns(ns) {
            let _ = ready.send(Err(InputError(format!("{}: {e}", sanitize(name)))));
            return;
        }
    }
    // Not immediate mode: libpcap then uses TPACKET_V3, whose ring packs
    // packets into large blocks handed over when full or after the block
    // timeout. Immediate mode falls back to TPACKET_V2's fixed slots of
    // snaplen bytes: with a large snaplen that is a ring of a few dozen
    // packets, and drops under load.
    let cap = Capture::from_device(iface)
        .map(|c| {
            c.promisc(true)
                .immediate_mode(false)
                .snaplen(opts.snaplen)
                .buffer_size(opts.buffer_bytes)
                .timeout(BLOCK_TIMEOUT_MS)
                .precision(Precision::Nano)
        })
        .and_then(|c| c.open())
        // Non-blocking, waited on with poll(2) below, so that a reader
        // notices a stop request on a silent interface.
        .and_then(|c| c.setnonblock());
    let mut cap = match cap {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(open_error(name, iface, netns, e)));
            return;
        }
    };
    if let Some(f) = &opts.filter {
        if let Err(e) = cap.filter(f, true) {
            let _ = ready.send(Err(InputError(format!(
                "capture filter '{}' is not valid on {}: {}",
                sanitize(f),
                sanitize(iface),
                sanitize(&e.to_string())
            ))));
            return;
        }
    }
    let dlt = cap.get_datalink();
    let Some(link) = LinkType::from_pcap(dlt.0) else {
        let _ = ready.send(Err(InputError(format!(
            "{}: interface {} has link type {} which lvsdiag cannot decode; capture on an Ethernet interface",
            sanitize(name),
            sanitize(iface),
            dlt.0
        ))));
        return;
    };
    let _ = ready.send(Ok(link));
    let mut stats = Stats::default();
    let mut last_beat = Instant::now();
    while !send.stop.load(Ordering::Relaxed) {
        match cap.next_packet() {
            Ok(p) => {
                // Whole microseconds, as tcpdump writes its files and streams:
                // copies of one packet seen here and in a stream must compare
                // on the same scale, or the stream's truncation reorders them.
                let ts = super::pcap_ts(p.header) / 1000 * 1000;
                send.push(ts, link, p.header.len, p.data);
                send.flush_due();
            }
            Err(pcap::Error::TimeoutExpired) => {
                // The ring holds no finished block: everything captured more
                // than HEARTBEAT_LAG ago has been read. The merge learns this
                // point holds nothing older; the batch goes when it is due.
                send.flush_due();
                if last_beat.elapsed() >= FLUSH_EVERY {
                    last_beat = Instant::now();
                    let lag = i64::try_from(HEARTBEAT_LAG.as_nanos()).unwrap_or(i64::MAX);
                    send.heartbeat(wall_ns().saturating_sub(lag));
                }
                let wait = send
                    .due_in()
                    .map_or(FLUSH_EVERY, |d| d.max(Duration::from_millis(1)))
                    .min(FLUSH_EVERY);
                use std::os::fd::AsRawFd;
                let mut pfd = libc::pollfd {
                    fd: cap.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd for the capture's own descriptor.
                unsafe { libc::poll(&mut pfd, 1, wait.as_millis() as i32) };
            }
            Err(e) => {
                send.flush();
                send.shared.lost(Loss::ended(wall_ns()));
                send.fail(format!(
                    "{}: capture on {} stopped: {}",
                    sanitize(name),
                    sanitize(iface),
                    sanitize(&e.to_string())
                ));
                break;
            }
        }
        if stats.at.elapsed() >= STATS_EVERY {
            stats.sample(&mut cap, send.shared);
        }
    }
    send.flush();
    stats.sample(&mut cap, send.shared);
}

/// Reads an interface's drop counters and notes each increase as a loss
/// in the time since the previous reading.
struct Stats {
    at: Instant,
    wall: i64,
    kernel: u64,
    interface: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            at: Instant::now(),
            wall: wall_ns(),
            kernel: 0,
            interface: 0,
        }
    }
}

impl Stats {
    fn sample(&mut self, cap: &mut Capture<pcap::Active>, shared: &Shared) {
        let now = wall_ns();
        if let Ok(s) = cap.stats() {
            let (k, i) = (u64::from(s.dropped), u64::from(s.if_dropped));
            for (new, old, cause) in [
                (k, self.kernel, LossCause::Kernel),
                (i, self.interface, LossCause::Interface),
            ] {
                if new > old {
                    shared.lost(Loss {
                        from: self.wall,
                        to: now,
                        packets: Some(new - old),
                        cause,
                    });
                }
            }
            self.kernel = self.kernel.max(k);
            self.interface = self.interface.max(i);
            shared.kernel_drops.store(self.kernel, Ordering::Relaxed);
            shared
                .interface_drops
                .store(self.interface, Ordering::Relaxed);
        }
        self.at = Instant::now();
        self.wall = now;
    }
}

/// Packets a capture tool says it dropped, from its closing lines
/// (tcpdump: "N packets dropped by kernel", "N packets dropped by interface").
fn tool_drops(stderr: &str) -> Option<u64> {
    let mut total = None;
    for l in stderr.lines() {
        let l = l.trim();
        if l.ends_with("packets dropped by kernel") || l.ends_with("packets dropped by interface") {
            if let Some(n) = l
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
            {
                total = Some(total.unwrap_or(0) + n);
            }
        }
    }
    total.filter(|n| *n > 0)
}

/// Kills the command when the reader ends.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        // SAFETY: signals the command's own process group (tcpdump under sh -c).
        unsafe {
            libc::kill(-(self.0.id() as libc::pid_t), libc::SIGTERM);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn read_command(
    name: &str,
    command: &str,
    send: &mut Sender<'_>,
    ready: SyncSender<Result<LinkType, InputError>>,
) {
    let shown = sanitize(name);
    use std::os::unix::process::CommandExt;
    let child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn();
    let mut child = match child {
        Ok(c) => {
            send.shared.pgid.store(c.id(), Ordering::Relaxed);
            Reaper(c)
        }
        Err(e) => {
            let _ = ready.send(Err(InputError(format!(
                "{shown}: cannot run the command: {e}"
            ))));
            return;
        }
    };
    // The last lines the command wrote to stderr, to explain its end.
    let stderr_tail = Arc::new(Mutex::new(String::new()));
    let mut tail_reader = None;
    if let Some(mut err) = child.0.stderr.take() {
        let tail = stderr_tail.clone();
        tail_reader = Some(std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut t) = tail.lock() {
                    t.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if t.len() > 4096 {
                        let cut = t.len() - 2048;
                        let cut = (cut..t.len()).find(|&i| t.is_char_boundary(i)).unwrap_or(0);
                        t.drain(..cut);
                    }
                }
            }
        }));
    }
    // The command's last words: wait (briefly) for its stderr to close.
    let last_line = |tail: &Mutex<String>| {
        let t0 = Instant::now();
        while tail_reader.as_ref().is_some_and(|h| !h.is_finished())
            && t0.elapsed() < Duration::from_millis(500)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        tail.lock()
            .ok()
            .and_then(|t| {
                t.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(|l| sanitize(l.trim()))
            })
            .unwrap_or_default()
    };
    let stdout = child.0.stdout.take().expect("piped").into_raw_fd();
    // SAFETY: the fd is ours alone (taken from the child handle); libpcap closes it.
    let cap = unsafe { Capture::from_raw_fd_with_precision(stdout, Precision::Nano) };
    let mut cap = match cap {
        Ok(c) => c,
        Err(e) => {
            let status = child.0.wait().ok();
            let why = last_line(&stderr_tail);
            let _ = ready.send(Err(InputError(format!(
                "{shown}: the command gave no pcap stream ({}{}{}); it must write a pcap to stdout, e.g. tcpdump -U -i eth0 -w -",
                sanitize(&e.to_string()),
                status.map_or(String::new(), |s| format!(", {s}")),
                if why.is_empty() { String::new() } else { format!(": {why}") }
            ))));
            return;
        }
    };
    let dlt = cap.get_datalink();
    let Some(link) = LinkType::from_pcap(dlt.0) else {
        let _ = ready.send(Err(InputError(format!(
            "{shown}: the stream has link type {} which lvsdiag cannot decode",
            dlt.0
        ))));
        return;
    };
    let _ = ready.send(Ok(link));
    let mut error = None;
    // The next read may block for as long as the stream is quiet (libpcap
    // reads it through stdio, so poll(2) cannot tell): a flusher hands over
    // what waits in the batch every FLUSH_EVERY meanwhile. Both hold the lock
    // while sending, so the point's packets stay in order.
    let stop = send.stop;
    let done = AtomicBool::new(false);
    let locked = Mutex::new(&mut *send);
    std::thread::scope(|sc| {
        sc.spawn(|| {
            while !done.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(FLUSH_EVERY / 2);
                if let Ok(mut s) = locked.lock() {
                    s.flush_due();
                }
            }
        });
        while !stop.load(Ordering::Relaxed) {
            match cap.next_packet() {
                Ok(p) => {
                    if let Ok(mut s) = locked.lock() {
                        s.push(super::pcap_ts(p.header), link, p.header.len, p.data);
                    }
                }
                Err(pcap::Error::NoMorePackets) => break,
                Err(e) => {
                    error = Some(sanitize(&e.to_string()));
                    break;
                }
            }
        }
        done.store(true, Ordering::Relaxed);
    });
    send.flush();
    let stopped = send.stop.load(Ordering::Relaxed);
    drop(cap);
    // The capture tool's own count of what it dropped (tcpdump prints it on
    // stderr when it ends, also when stopped), as a loss over the stream.
    let why = last_line(&stderr_tail);
    if let Some((first, last)) = send.span {
        let text = stderr_tail.lock().map(|t| t.clone()).unwrap_or_default();
        if let Some(n) = tool_drops(&text) {
            send.shared.lost(Loss {
                from: first,
                to: last,
                packets: Some(n),
                cause: LossCause::Recorded,
            });
        }
    }
    if stopped {
        return;
    }
    let status = child.0.wait().ok();
    // Reaped: its process group id may be reused; stop() must not signal it.
    send.shared.pgid.store(0, Ordering::Relaxed);
    let ok = status.is_some_and(|s| s.success());
    if error.is_some() || !ok {
        // What it would have sent after this is unseen: no proof of absence.
        if let Some((_, last)) = send.span {
            send.shared.lost(Loss::ended(last));
        }
        send.fail(format!(
            "{shown}: the command's stream ended after {} packets ({}{}{}); the packets before it were analyzed. Check the command: {}",
            send.frame,
            error.unwrap_or_else(|| "end of stream".into()),
            status.map_or(String::new(), |s| format!(", {s}")),
            if why.is_empty() { String::new() } else { format!(": {why}") },
            sanitize(command)
        ));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tcpdump_closing_counts_are_drops() {
        let err = "tcpdump: listening on eth0\n120 packets captured\n130 packets received by filter\n10 packets dropped by kernel\n";
        assert_eq!(super::tool_drops(err), Some(10));
        assert_eq!(super::tool_drops("0 packets dropped by kernel\n"), None);
        assert_eq!(
            super::tool_drops("5 packets dropped by interface\n2 packets dropped by kernel"),
            Some(7)
        );
        assert_eq!(super::tool_drops("x packets dropped by kernel"), None);
    }

    #[test]
    fn the_default_filter_keeps_what_the_checks_read() {
        let a: Vec<std::net::IpAddr> = vec![
            "192.0.2.100".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
        ];
        let f = super::filter_for(&a).unwrap();
        for part in [
            "arp",
            "icmp6",
            "vrrp",
            "host 192.0.2.100",
            "host 2001:db8::1",
            "vlan and (",
        ] {
            assert!(f.contains(part), "{f}");
        }
        // libpcap compiles it.
        let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).unwrap();
        assert!(dead.compile(&f, true).is_ok(), "{f}");
        assert_eq!(super::filter_for(&[]), None);
    }
}
