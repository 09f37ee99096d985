//! Classic pcap files (tcpdump -w) read in large blocks: each block holds
//! whole records, and a packet is a slice of its block. There is no copy
//! per packet (libpcap copies each one through stdio and again into its
//! own buffer); the kernel's copy from the page cache into the block is the
//! only one, the same copy `cat F >/dev/null` makes.
//!
//! The file format is libpcap's (`pcap-savefile(5)`): microsecond and
//! nanosecond magics in either byte order, the modified (Kuznetzov) record
//! header, libpcap's record-length limit, and libpcap's repairs of old files
//! (caplen and len swapped before version 2.3; a record longer than the
//! snapshot length cut to it). Errors use libpcap's words, so a truncated
//! file reads as it did.

use super::pcapng::read_full;
use crate::decode::LinkType;
use std::io::Read;

/// Bytes read per block: 64 KiB, about 500 packets of a typical capture
/// (each batch in flight holds its block and its packets decoded).
pub const BLOCK: usize = 64 << 10;
/// libpcap's largest record for every link type lvsdiag decodes
/// (MAXIMUM_SNAPLEN); a longer one means a corrupt file.
const MAX_RECORD: u32 = 262_144;

/// One record of a block: its packet is `block[start..end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rec {
    /// Nanoseconds since the epoch.
    pub ts: i64,
    pub wire_len: u32,
    pub start: usize,
    pub end: usize,
}

/// What the file header says, read by [`PcapReader::open`].
#[derive(Debug, Clone, Copy)]
pub struct Header {
    /// The link-type number (its low 26 bits; the rest is FCS information).
    pub linktype: u32,
    pub link: Option<LinkType>,
}

pub struct PcapReader<R: Read> {
    r: R,
    big: bool,
    nanos: bool,
    /// Record header length: 16, or 24 in the modified format.
    rec_hdr: usize,
    snaplen: u32,
    /// caplen and len are swapped in the record headers (version < 2.3).
    swapped: Swap,
    /// The bytes after the last whole record of the previous block.
    carry: Vec<u8>,
    eof: bool,
    /// Bytes read per block ([`BLOCK`]; smaller in tests and fuzzing).
    block: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Swap {
    No,
    Always,
    /// Version 2.3: when caplen > len.
    IfLonger,
}

impl<R: Read> PcapReader<R> {
    /// Reads the file header. `Err` says why this is not a pcap file, in
    /// libpcap's words.
    pub fn open(mut r: R) -> Result<(PcapReader<R>, Header), String> {
        let mut h = [0u8; 24];
        let got = read_full(&mut r, &mut h)?;
        let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let (big, nanos, rec_hdr) = match magic {
            0xa1b2_c3d4 => (false, false, 16),
            0xd4c3_b2a1 => (true, false, 16),
            0xa1b2_3c4d => (false, true, 16),
            0x4d3c_b2a1 => (true, true, 16),
            0xa1b2_cd34 => (false, false, 24),
            0x34cd_b2a1 => (true, false, 24),
            _ if got < 4 => {
                return Err(format!(
                    "truncated dump file; tried to read 4 file header bytes, only got {got}"
                ))
            }
            _ => return Err("unknown file format".into()),
        };
        if got < h.len() {
            return Err(format!(
                "truncated dump file; tried to read 24 file header bytes, only got {got}"
            ));
        }
        let u16_at = |o: usize| {
            let b = [h[o], h[o + 1]];
            if big {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let u32_at = |o: usize| {
            let b = [h[o], h[o + 1], h[o + 2], h[o + 3]];
            if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let (major, minor) = (u16_at(4), u16_at(6));
        if major != 2 {
            return Err(format!("unsupported pcap file version {major}.{minor}"));
        }
        let swapped = match minor {
            0..=2 => Swap::Always,
            3 => Swap::IfLonger,
            _ => Swap::No,
        };
        let snaplen = match u32_at(16) {
            0 => MAX_RECORD,
            s => s.min(MAX_RECORD),
        };
        let linktype = u32_at(20) & 0x03FF_FFFF;
        let link = i32::try_from(linktype).ok().and_then(LinkType::from_pcap);
        Ok((
            PcapReader {
                r,
                big,
                nanos,
                rec_hdr,
                snaplen,
                swapped,
                carry: Vec::new(),
                eof: false,
                block: BLOCK,
            },
            Header { linktype, link },
        ))
    }

    /// Reads blocks of `n` bytes instead of [`BLOCK`] (at least 1).
    pub fn with_block(mut self, n: usize) -> PcapReader<R> {
        self.block = n.max(1);
        self
    }

    fn u32(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    /// Fills `block` with the next whole records (about [`BLOCK`] bytes)
    /// and appends each to `recs`. `block` keeps its length between calls
    /// (only its records' ranges are meaningful), so a recycled block is not
    /// cleared again.
    ///
    /// `Ok(true)`: records were added, or may follow. `Ok(false)`: the file
    /// ended cleanly. `Err`: the file is cut or corrupt right after the
    /// records already delivered (nothing is added with an error).
    pub fn fill(&mut self, block: &mut Vec<u8>, recs: &mut Vec<Rec>) -> Result<bool, String> {
        let want = self.block.max(self.carry.len());
        if block.len() < want {
            block.resize(want, 0);
        }
        let mut valid = self.carry.len();
        block[..valid].copy_from_slice(&self.carry);
        self.carry.clear();
        loop {
            while !self.eof && valid < block.len() {
                match self.r.read(&mut block[valid..]) {
                    Ok(0) => self.eof = true,
                    Ok(n) => valid += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
            let before = recs.len();
            let pos = self.parse(&block[..valid], recs)?;
            let left = valid - pos;
            if recs.len() > before || left == 0 {
                self.carry.extend_from_slice(&block[pos..valid]);
                return Ok(recs.len() > before || !self.eof);
            }
            // Not one whole record in the block.
            if self.eof {
                let (caplen, _, _) = self.header_at(&block[..valid]);
                return Err(match caplen {
                    None => format!(
                        "truncated dump file; tried to read {} header bytes, only got {left}",
                        self.rec_hdr
                    ),
                    Some(c) => format!(
                        "truncated dump file; tried to read {c} captured bytes, only got {}",
                        left - self.rec_hdr
                    ),
                });
            }
            // A record longer than the block: make room for it and read on.
            let (caplen, _, _) = self.header_at(&block[..valid]);
            let need = self.rec_hdr + caplen.unwrap_or(0) as usize;
            block.resize(need.max(block.len()), 0);
        }
    }

    /// (caplen, len, ts) of the record header at the start of `b`, when
    /// the whole header is there.
    fn header_at(&self, b: &[u8]) -> (Option<u32>, u32, i64) {
        if b.len() < self.rec_hdr {
            return (None, 0, 0);
        }
        let (mut caplen, mut len) = (self.u32(&b[8..12]), self.u32(&b[12..16]));
        if self.swapped == Swap::Always || (self.swapped == Swap::IfLonger && caplen > len) {
            std::mem::swap(&mut caplen, &mut len);
        }
        // libpcap reads both halves as signed 32-bit values.
        let sec = i64::from(self.u32(&b[0..4]) as i32);
        let frac = i64::from(self.u32(&b[4..8]) as i32);
        let ns = if self.nanos { frac } else { frac * 1000 };
        (
            Some(caplen),
            len,
            sec.saturating_mul(1_000_000_000).saturating_add(ns),
        )
    }

    /// Adds every whole record of `b`; returns where the first incomplete
    /// one starts.
    fn parse(&self, b: &[u8], recs: &mut Vec<Rec>) -> Result<usize, String> {
        let mut pos = 0;
        loop {
            let (Some(caplen), len, ts) = self.header_at(&b[pos..]) else {
                return Ok(pos);
            };
            if caplen > MAX_RECORD {
                return match recs.is_empty() {
                    true => Err(format!(
                        "invalid packet capture length {caplen}, bigger than maximum of {MAX_RECORD}"
                    )),
                    // Deliver the records before it first.
                    false => Ok(pos),
                };
            }
            let start = pos + self.rec_hdr;
            let end = start + caplen as usize;
            if end > b.len() {
                return Ok(pos);
            }
            recs.push(Rec {
                ts,
                wire_len: len,
                start,
                // libpcap cuts a record longer than the snapshot length.
                end: start + (caplen.min(self.snaplen) as usize),
            });
            pos = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(magic: u32, minor: u16, recs: &[(u32, u32, u32, u32, &[u8])]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&magic.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&minor.to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&MAX_RECORD.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        for (s, f, cap, len, data) in recs {
            for v in [s, f, cap, len] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            b.extend_from_slice(data);
        }
        b
    }

    /// Each record's (time, length on the wire, bytes), and how the file ended.
    type Read = (Vec<(i64, u32, Vec<u8>)>, Result<(), String>);

    fn read_all(b: &[u8]) -> Read {
        read_in(b, BLOCK)
    }

    fn read_in(b: &[u8], n: usize) -> Read {
        let (r, h) = PcapReader::open(b).unwrap();
        let mut r = r.with_block(n);
        assert_eq!(h.link, Some(LinkType::Ethernet));
        let mut out = Vec::new();
        let mut block = Vec::new();
        loop {
            let mut recs = Vec::new();
            match r.fill(&mut block, &mut recs) {
                Ok(more) => {
                    for x in &recs {
                        out.push((x.ts, x.wire_len, block[x.start..x.end].to_vec()));
                    }
                    if !more {
                        return (out, Ok(()));
                    }
                }
                Err(e) => return (out, Err(e)),
            }
        }
    }

    #[test]
    fn records_are_slices_of_the_block_with_their_times() {
        let b = file(
            0xa1b2_c3d4,
            4,
            &[(10, 5, 3, 60, b"abc"), (11, 0, 2, 2, b"de")],
        );
        let (v, end) = read_all(&b);
        assert_eq!(end, Ok(()));
        assert_eq!(
            v,
            vec![
                (10_000_005_000, 60, b"abc".to_vec()),
                (11_000_000_000, 2, b"de".to_vec())
            ]
        );
        // Nanosecond files keep the fraction as it is.
        let (v, _) = read_all(&file(0xa1b2_3c4d, 4, &[(1, 7, 1, 1, b"x")]));
        assert_eq!(v[0].0, 1_000_000_007);
    }

    #[test]
    fn a_cut_file_says_what_it_missed_after_the_whole_records() {
        let mut b = file(0xa1b2_c3d4, 4, &[(1, 0, 3, 3, b"abc")]);
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&60u32.to_le_bytes());
        b.extend_from_slice(&60u32.to_le_bytes());
        b.extend_from_slice(&[0; 10]);
        let (v, end) = read_all(&b);
        assert_eq!(v.len(), 1);
        assert_eq!(
            end,
            Err("truncated dump file; tried to read 60 captured bytes, only got 10".into())
        );
        let (v, end) = read_all(&b[..24 + 16 + 3 + 5]);
        assert_eq!(v.len(), 1);
        assert_eq!(
            end,
            Err("truncated dump file; tried to read 16 header bytes, only got 5".into())
        );
    }

    #[test]
    fn records_across_blocks_and_longer_than_a_block_are_whole() {
        let big = vec![7u8; MAX_RECORD as usize];
        let small = vec![1u8; 1000];
        let mut recs: Vec<(u32, u32, u32, u32, &[u8])> = Vec::new();
        for i in 0..600 {
            recs.push((i, 0, 1000, 1000, &small));
        }
        recs.push((700, 0, MAX_RECORD, MAX_RECORD, &big));
        recs.push((701, 0, 1000, 1000, &small));
        let f = file(0xa1b2_c3d4, 4, &recs);
        for n in [BLOCK, 1, 17, 1016, 4096] {
            let (v, end) = read_in(&f, n);
            assert_eq!(end, Ok(()), "blocks of {n}");
            assert_eq!(v.len(), 602, "blocks of {n}");
            assert!(v[..600].iter().all(|r| r.2 == small), "blocks of {n}");
            assert!(v[600].2 == big, "the long record whole, blocks of {n}");
            assert_eq!(v[601].0, 701_000_000_000, "blocks of {n}");
        }
    }

    #[test]
    fn corrupt_lengths_and_formats_are_refused_in_libpcap_words() {
        let (_, end) = read_all(&file(0xa1b2_c3d4, 4, &[(1, 0, 1 << 30, 1 << 30, b"")]));
        assert_eq!(
            end,
            Err("invalid packet capture length 1073741824, bigger than maximum of 262144".into())
        );
        assert_eq!(
            PcapReader::open(&b"hello, world, this is text"[..]).err(),
            Some("unknown file format".into())
        );
        assert_eq!(
            PcapReader::open(&0xa1b2_c3d4u32.to_le_bytes()[..]).err(),
            Some("truncated dump file; tried to read 24 file header bytes, only got 4".into())
        );
        // Version 2.2: caplen and len swapped.
        let (v, _) = read_all(&file(0xa1b2_c3d4, 2, &[(1, 0, 60, 2, b"ab")]));
        assert_eq!((v[0].1, v[0].2.len()), (60, 2));
    }
}
