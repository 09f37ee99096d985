//! Sources: where packets come from. Each source is one capture point.
//!
//! Files are read by lvsdiag's own readers (classic pcap in blocks whose
//! packets are slices: [`classic`]; pcapng: [`pcapng`]); several points are
//! merged into one time-ordered stream by [`merge::Merger`]. Live interfaces and
//! commands are read by [`live::Streams`]. Both are a [`PacketSource`].

pub mod classic;
pub mod file;
pub mod live;
pub mod merge;
pub mod pcapng;

use crate::decode::LinkType;
use std::fmt;
use std::path::PathBuf;

/// One packet as a source delivers it, borrowed from the source's buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// Index of the capture point.
    pub point: u16,
    /// 1-based frame number within the point.
    pub frame: u64,
    /// Nanoseconds since the Unix epoch.
    pub ts: i64,
    pub link: LinkType,
    pub data: &'a [u8],
    /// Length on the wire (may exceed `data.len()` when cut by the snap length).
    pub wire_len: u32,
    /// `data` already decoded where it was read (the file readers' threads
    /// decode beside the analysis); `None`: the engine decodes it.
    pub decoded: Option<&'a Result<crate::decode::Packet, crate::decode::DecodeError>>,
}

/// Where the drive loop takes packets from: capture files merged in time
/// order ([`merge::Merger`]), or live sources (interfaces, commands, paced
/// files: [`live::LiveInput`]). One loop drives either
/// ([`crate::drive::drive`]).
pub trait PacketSource {
    /// Hands every packet that is ready, in time order, to `sink`, with its
    /// owned copy for a live capture point (kept for export); `sink` says
    /// whether it could decode the packet. Returns `false` once every
    /// capture point has ended and everything was handed over.
    fn pump(&mut self, sink: &mut dyn FnMut(&RawPacket<'_>, Option<&live::Pkt>) -> bool) -> bool;
    /// The capture points as they are now.
    fn points(&self) -> Vec<PointInfo>;
    /// Stops reading: what was already read is still handed over, then
    /// [`PacketSource::pump`] returns `false`.
    fn stop(&mut self);
    /// The capture points at the end (each reader finished).
    fn finish(self: Box<Self>) -> Vec<PointInfo>;
}

/// A libpcap packet time in nanoseconds since the epoch (captures are opened
/// with nanosecond precision, so libpcap stores nanoseconds in `tv_usec`).
pub fn pcap_ts(h: &pcap::PacketHeader) -> i64 {
    #[allow(clippy::useless_conversion)] // time_t and suseconds_t are i64 only on 64-bit targets
    i64::from(h.ts.tv_sec)
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(h.ts.tv_usec))
}

/// What is known about a capture point, for the report.
#[derive(Debug, Clone)]
pub struct PointInfo {
    pub name: String,
    pub path: Option<PathBuf>,
    pub link_type: LinkType,
    pub packets: u64,
    /// Frames that could not be decoded (truncated, malformed).
    pub undecodable: u64,
    /// Set when the source ended early with an error; packets before it were analyzed.
    pub error: Option<String>,
    /// For live interfaces and command streams: state and drops.
    pub live: Option<LiveInfo>,
    /// When this point lost packets (drops, an early end): what it did not
    /// see there, it cannot prove absent.
    pub losses: Vec<Loss>,
}

impl PointInfo {
    /// A point named `name` of `link_type`, nothing read yet.
    pub fn new(name: String, link_type: LinkType) -> PointInfo {
        PointInfo {
            name,
            path: None,
            link_type,
            packets: 0,
            undecodable: 0,
            error: None,
            live: None,
            losses: Vec::new(),
        }
    }

    /// An Ethernet point that read `packets` packets (tests, benchmarks).
    pub fn ethernet(name: &str, packets: u64) -> PointInfo {
        PointInfo {
            packets,
            ..PointInfo::new(name.into(), LinkType::Ethernet)
        }
    }
}

/// Packets a capture point did not deliver, and when they were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loss {
    /// Nanoseconds since the epoch (packet time): the lost packets lie
    /// between `from` and `to`.
    pub from: i64,
    pub to: i64,
    /// How many; `None` when unknown (a capture that ended early lost
    /// everything after it).
    pub packets: Option<u64>,
    pub cause: LossCause,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossCause {
    /// The kernel's capture buffer was full (libpcap's ps_drop).
    Kernel,
    /// The interface or driver dropped them (ps_ifdrop).
    Interface,
    /// lvsdiag could not keep up and dropped captured packets.
    Lvsdiag,
    /// Dropped as the capture file itself records (pcapng interface
    /// statistics, a stream's capture tool).
    Recorded,
    /// The capture ended early with an error.
    Ended,
}

impl LossCause {
    pub fn as_str(self) -> &'static str {
        match self {
            LossCause::Kernel => "kernel",
            LossCause::Interface => "interface",
            LossCause::Lvsdiag => "lvsdiag",
            LossCause::Recorded => "recorded",
            LossCause::Ended => "ended",
        }
    }
}

impl Loss {
    /// Everything after `from`: the capture ended there.
    pub fn ended(from: i64) -> Loss {
        Loss {
            from,
            to: i64::MAX,
            packets: None,
            cause: LossCause::Ended,
        }
    }

    /// Whether any of it falls between `from` and `to`.
    pub fn overlaps(&self, from: i64, to: i64) -> bool {
        self.from <= to && from <= self.to
    }
}

/// How many packets these losses are (`None`: unknown, an early end), and
/// their causes, each once.
pub fn sum_losses<'a>(ls: impl IntoIterator<Item = &'a Loss>) -> (Option<u64>, Vec<&'static str>) {
    let mut n = Some(0u64);
    let mut causes: Vec<&'static str> = Vec::new();
    for l in ls {
        n = n.zip(l.packets).map(|(a, b)| a.saturating_add(b));
        if !causes.contains(&l.cause.as_str()) {
            causes.push(l.cause.as_str());
        }
    }
    (n, causes)
}

/// A set of capture points (a bit each).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PointSet(Vec<u64>);

impl PointSet {
    pub fn insert(&mut self, p: u16) {
        let (w, b) = (usize::from(p) / 64, p % 64);
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        self.0[w] |= 1 << b;
    }
    pub fn contains(&self, p: u16) -> bool {
        self.0
            .get(usize::from(p) / 64)
            .is_some_and(|w| w & (1 << (p % 64)) != 0)
    }
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
    pub fn union(&mut self, o: &PointSet) {
        if self.0.len() < o.0.len() {
            self.0.resize(o.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&o.0) {
            *a |= b;
        }
    }
}

/// Losses kept per point; past this the newest is merged into the last.
const MAX_LOSSES: usize = 256;

/// Appends a loss, merging it into the previous one of the same cause when
/// they touch, and bounding the list.
pub fn add_loss(v: &mut Vec<Loss>, l: Loss) {
    let full = v.len() >= MAX_LOSSES;
    if let Some(last) = v.last_mut() {
        let touching = last.cause == l.cause && l.from <= last.to.saturating_add(1_000_000);
        if touching || full {
            last.from = last.from.min(l.from);
            last.to = last.to.max(l.to);
            last.packets = last
                .packets
                .zip(l.packets)
                .map(|(a, b)| a.saturating_add(b));
            return;
        }
    }
    v.push(l);
}

/// A live capture point's state. Drops are always reported, never hidden.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveInfo {
    /// `eth0`, `rs1:eth0` (in netns rs1), or the command.
    pub what: String,
    /// Dropped by the kernel (socket buffer full): libpcap's ps_drop.
    pub kernel_drops: u64,
    /// Dropped by the interface or driver: libpcap's ps_ifdrop.
    pub interface_drops: u64,
    /// Captured but not analyzed because lvsdiag could not keep up.
    pub lvsdiag_drops: u64,
    /// Still capturing.
    pub running: bool,
}

impl LiveInfo {
    pub fn total_drops(&self) -> u64 {
        self.kernel_drops + self.interface_drops + self.lvsdiag_drops
    }
}

/// An input problem: one line, naming the thing and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}
