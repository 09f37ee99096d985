//! Merges several capture points into one stream ordered by timestamp.

use super::file::FileSource;
use super::{PointInfo, RawPacket};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub struct Merger {
    sources: Vec<FileSource>,
    /// (timestamp, source index) of each source's pending packet.
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    current: Option<usize>,
}

impl Merger {
    pub fn new(mut sources: Vec<FileSource>) -> Merger {
        let mut heap = BinaryHeap::with_capacity(sources.len());
        for (i, s) in sources.iter_mut().enumerate() {
            if s.advance() {
                heap.push(Reverse((s.ts, i)));
            }
        }
        Merger {
            sources,
            heap,
            current: None,
        }
    }

    /// The next packet in time order across all points, or `None` when all
    /// sources are exhausted. Ties keep the order of the points as given.
    pub fn next_packet(&mut self) -> Option<RawPacket<'_>> {
        if let Some(i) = self.current.take() {
            let s = &mut self.sources[i];
            if s.advance() {
                self.heap.push(Reverse((s.ts, i)));
            }
        }
        let Reverse((_, i)) = self.heap.pop()?;
        self.current = Some(i);
        let s = &self.sources[i];
        Some(RawPacket {
            point: i as u16,
            frame: s.info.packets,
            ts: s.ts,
            link: s.link,
            data: &s.buf,
            wire_len: s.wire_len,
        })
    }

    pub fn points(&self) -> Vec<PointInfo> {
        self.sources.iter().map(|s| s.info.clone()).collect()
    }

    /// Total bytes of all input files (for progress reporting).
    pub fn info_mut(&mut self, point: u16) -> &mut PointInfo {
        &mut self.sources[usize::from(point)].info
    }
}
