//! One live packet, owning a share of the batch buffer it was read in.

use super::*;

/// One packet, owned: its bytes live in the buffer of the batch it was
/// read in (shared, so a batch costs one allocation, not one per packet).
#[derive(Debug, Clone)]
pub struct Pkt {
    pub point: u16,
    pub frame: u64,
    pub ts: i64,
    pub link: LinkType,
    pub wire_len: u32,
    pub(super) buf: Arc<Vec<u8>>,
    pub(super) start: u32,
    pub(super) end: u32,
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

    pub fn raw(&self) -> crate::source::RawPacket<'_> {
        crate::source::RawPacket {
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
