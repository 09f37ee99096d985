//! Merges several capture points into one stream ordered by timestamp.
//!
//! Each source is read and decoded on its own thread, beside the analysis;
//! packets travel in batches (a classic pcap file's block, its packets
//! slices of it) through bounded channels, and batches are recycled, so
//! there is no allocation or copy per packet.

use super::file::FileSource;
use super::{PacketSource, PointInfo, RawPacket};
use crate::decode::{decode, DecodeError, LinkType, Packet};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

const BATCHES_IN_FLIGHT: usize = 4;

#[derive(Clone, Copy)]
struct Meta {
    ts: i64,
    frame: u64,
    /// The packet's point within its file (its pcapng interface).
    sub: u16,
    wire_len: u32,
    link: LinkType,
    start: usize,
    end: usize,
}

#[derive(Default)]
struct Batch {
    data: Vec<u8>,
    meta: Vec<Meta>,
    /// Each packet decoded on the reader's thread (beside the analysis; one
    /// thread per file, so several points decode on several cores).
    decoded: Vec<Result<Packet, DecodeError>>,
}

struct Feed {
    rx: Receiver<Batch>,
    recycle: SyncSender<Batch>,
    cur: Batch,
    pos: usize,
    thread: Option<JoinHandle<Vec<PointInfo>>>,
    /// The file's first point.
    base: usize,
}

impl Feed {
    fn advance_first(&mut self) -> bool {
        let Ok(first) = self.rx.recv() else {
            return false;
        };
        self.cur = first;
        self.pos = 0;
        !self.cur.meta.is_empty()
    }

    /// Makes the next packet current; `false` when the source is done.
    fn advance(&mut self) -> bool {
        self.pos += 1;
        while self.pos >= self.cur.meta.len() {
            let Ok(next) = self.rx.recv() else {
                return false;
            };
            let old = std::mem::replace(&mut self.cur, next);
            let _ = self.recycle.try_send(old);
            self.pos = 0;
        }
        true
    }

    fn meta(&self) -> Meta {
        self.cur.meta[self.pos]
    }
}

fn spawn(mut src: FileSource, base: usize) -> Feed {
    let (tx, rx) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
    let (recycle, spare) = sync_channel::<Batch>(BATCHES_IN_FLIGHT + 2);
    let thread = std::thread::spawn(move || {
        let mut items = Vec::new();
        loop {
            let mut b = spare.try_recv().unwrap_or_default();
            b.meta.clear();
            b.decoded.clear();
            items.clear();
            let first = src.info.packets;
            let more = src.read_batch(&mut b.data, &mut items);
            for (n, x) in (first + 1..).zip(&items) {
                b.decoded.push(decode(x.link, &b.data[x.start..x.end]));
                b.meta.push(Meta {
                    ts: x.ts,
                    frame: n,
                    sub: x.iface,
                    wire_len: x.wire_len,
                    link: x.link,
                    start: x.start,
                    end: x.end,
                });
            }
            if (!b.meta.is_empty() && tx.send(b).is_err()) || !more {
                break;
            }
        }
        src.points()
    });
    Feed {
        rx,
        recycle,
        cur: Batch::default(),
        pos: 0,
        thread: Some(thread),
        base,
    }
}

pub struct Merger {
    feeds: Vec<Feed>,
    /// Stopped early: no more packets are handed over.
    stopped: bool,
    /// (timestamp, source index) of each source's current packet.
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    current: Option<usize>,
    undecodable: Vec<u64>,
    /// Each point as opened, with packets delivered so far.
    infos: Vec<PointInfo>,
}

impl Merger {
    /// Merges the files' points (a pcapng file with several interfaces is
    /// several); point names are made unique with `#N`.
    pub fn new(sources: Vec<FileSource>) -> Merger {
        let mut infos: Vec<PointInfo> = sources.iter().flat_map(|s| s.points()).collect();
        unique_names(&mut infos);
        let mut base = 0;
        let mut feeds: Vec<Feed> = sources
            .into_iter()
            .map(|s| {
                let n = s.point_count();
                base += n;
                spawn(s, base - n)
            })
            .collect();
        let mut heap = BinaryHeap::with_capacity(feeds.len());
        for (i, f) in feeds.iter_mut().enumerate() {
            if f.advance_first() {
                heap.push(Reverse((f.meta().ts, i)));
            }
        }
        let n = infos.len();
        Merger {
            feeds,
            stopped: false,
            heap,
            current: None,
            undecodable: vec![0; n],
            infos,
        }
    }

    /// The next packet in time order across all points, or `None` when all
    /// sources are exhausted. Ties keep the order of the points as given.
    pub fn next_packet(&mut self) -> Option<RawPacket<'_>> {
        let i = match self.current.take() {
            // One file: nothing to order.
            Some(i) if self.feeds.len() == 1 => {
                if !self.feeds[i].advance() {
                    return None;
                }
                i
            }
            Some(i) => {
                let f = &mut self.feeds[i];
                if f.advance() {
                    self.heap.push(Reverse((f.meta().ts, i)));
                }
                self.heap.pop()?.0 .1
            }
            None => self.heap.pop()?.0 .1,
        };
        self.current = Some(i);
        let f = &self.feeds[i];
        let m = f.meta();
        let point = f.base + usize::from(m.sub);
        if let Some(p) = self.infos.get_mut(point) {
            p.packets += 1;
        }
        Some(RawPacket {
            point: point as u16,
            frame: m.frame,
            ts: m.ts,
            link: m.link,
            data: &f.cur.data[m.start..m.end],
            wire_len: m.wire_len,
            decoded: f.cur.decoded.get(f.pos),
        })
    }

    pub fn count_undecodable(&mut self, point: u16) {
        self.undecodable[usize::from(point)] += 1;
    }

    /// Each point as of now (packets delivered so far).
    pub fn points(&self) -> Vec<PointInfo> {
        let mut v = self.infos.clone();
        for (p, u) in v.iter_mut().zip(&self.undecodable) {
            p.undecodable = *u;
        }
        v
    }

    /// Ends reading and returns each point's info (what was read so far,
    /// when it ends early).
    pub fn finish(mut self) -> Vec<PointInfo> {
        let mut out = Vec::with_capacity(self.infos.len());
        for f in self.feeds.iter_mut() {
            // A reader still sending stops when its channel is gone.
            let (_, gone) = sync_channel(0);
            drop(std::mem::replace(&mut f.rx, gone));
            let infos = f
                .thread
                .take()
                .expect("joined once")
                .join()
                .expect("reader thread");
            out.extend(infos);
        }
        for ((o, named), u) in out.iter_mut().zip(&self.infos).zip(&self.undecodable) {
            o.name.clone_from(&named.name);
            o.undecodable += u;
        }
        out
    }
}

/// Packets handed over between two looks at the clock (publishing, stop).
const PUMP_PACKETS: u32 = 4096;

impl PacketSource for Merger {
    fn pump(
        &mut self,
        sink: &mut dyn FnMut(&RawPacket<'_>, Option<&super::live::Pkt>) -> bool,
    ) -> bool {
        for _ in 0..PUMP_PACKETS {
            if self.stopped {
                return false;
            }
            let Some(p) = self.next_packet() else {
                return false;
            };
            let point = p.point;
            if !sink(&p, None) {
                self.count_undecodable(point);
            }
        }
        true
    }

    fn points(&self) -> Vec<PointInfo> {
        Merger::points(self)
    }

    fn stop(&mut self) {
        self.stopped = true;
    }

    fn finish(self: Box<Self>) -> Vec<PointInfo> {
        Merger::finish(*self)
    }
}

/// Makes point names unique: a repeated name gets `#2`, `#3`, ...
pub fn unique_names(points: &mut [PointInfo]) {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for p in points.iter_mut() {
        let c = seen.entry(p.name.clone()).or_insert(0);
        *c += 1;
        if *c > 1 {
            p.name = format!("{}#{c}", p.name);
        }
    }
}
