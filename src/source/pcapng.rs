//! Fallback reader for pcapng files whose interfaces have different link
//! types (libpcap refuses those: "an interface has a type ... different from
//! the type of the first interface"). Each packet carries its own
//! interface's link type. Only block framing and the few fields lvsdiag
//! needs are read (the `pcap-file` crate was tried: it ignores
//! `if_tsresol`, rejects files whose comments are not UTF-8, and allocates
//! a large buffer per reader).

use super::{Loss, LossCause};
use crate::decode::LinkType;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// Largest block accepted (libpcap's limit is 16 MiB as well).
const MAX_BLOCK: usize = 16 << 20;
/// Interfaces described per file at most (each becomes a capture point).
pub const MAX_INTERFACES: usize = 1024;

pub struct NgReader<R: Read = BufReader<File>> {
    reader: R,
    big_endian: bool,
    /// The current block's body (reused).
    body: Vec<u8>,
    /// Per interface of the current section: link type (None = unsupported)
    /// and ticks per second exponent.
    ifaces: Vec<(Option<LinkType>, Tsres)>,
    /// Interfaces of the sections before this one: a packet's interface
    /// number in the file is this plus its number in its section.
    iface_base: u32,
    /// Every interface of the file so far, in order.
    pub described: Vec<IfDesc>,
    /// Skip packet blocks unread (a scan for interfaces or statistics).
    skip_packets: bool,
    /// Read Interface Statistics Blocks (with `skip_packets`).
    want_stats: bool,
    /// How to pass over bytes without reading them (a seekable file).
    skip: Option<fn(&mut R, u64) -> std::io::Result<()>>,
    /// Per interface of the file, its latest statistics.
    stats: std::collections::HashMap<u32, IfStats>,
}

/// What an Interface Statistics Block says (counters are since the start).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IfStats {
    /// Nanoseconds since the epoch.
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub ifdrop: Option<u64>,
    pub osdrop: Option<u64>,
}

#[derive(Clone, Copy)]
enum Tsres {
    Pow10(u32),
    Pow2(u32),
}

impl Tsres {
    fn to_ns(self, ticks: u64) -> i64 {
        let ns = match self {
            Tsres::Pow10(e) if e <= 9 => (ticks as u128) * 10u128.pow(9 - e),
            Tsres::Pow10(e) => (ticks as u128) / 10u128.pow((e - 9).min(38)),
            Tsres::Pow2(e) => ((ticks as u128) * 1_000_000_000) >> e.min(127),
        };
        i64::try_from(ns).unwrap_or(i64::MAX)
    }
}

/// An interface as its Interface Description Block describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfDesc {
    pub link: Option<LinkType>,
    /// The raw link type number.
    pub linktype: u16,
    /// `if_name`, when the block has one (not sanitized).
    pub name: Option<String>,
}

pub struct NgPacket {
    pub link: Option<LinkType>,
    /// The interface's number in the file (sections numbered on).
    pub iface: u32,
    pub ts: i64,
    pub wire_len: u32,
}

impl NgReader {
    pub fn open(path: &Path) -> Result<NgReader, String> {
        let f = File::open(path).map_err(|e| e.to_string())?;
        let mut r = NgReader::new(BufReader::new(f))?;
        r.skip = Some(|r, n| r.seek_relative(i64::try_from(n).unwrap_or(i64::MAX)));
        Ok(r)
    }
}

impl<R: Read> NgReader<R> {
    pub fn new(r: R) -> Result<NgReader<R>, String> {
        let mut n = NgReader {
            reader: r,
            big_endian: false,
            body: Vec::new(),
            ifaces: Vec::new(),
            iface_base: 0,
            described: Vec::new(),
            skip_packets: false,
            want_stats: false,
            skip: None,
            stats: std::collections::HashMap::new(),
        };
        match n.next_block()? {
            Some(SHB) => Ok(n),
            _ => Err("not a pcapng file (no section header block)".into()),
        }
    }

    /// Reads one block into `self.body`; returns its type, `None` at a clean end.
    fn next_block(&mut self) -> Result<Option<u32>, String> {
        let mut head = [0u8; 8];
        match read_full(&mut self.reader, &mut head)? {
            0 => return Ok(None),
            8 => {}
            _ => return Err("truncated block header".into()),
        }
        let raw_type = [head[0], head[1], head[2], head[3]];
        if u32::from_le_bytes(raw_type) == SHB {
            // The byte-order magic after the length says how to read the section.
            let mut bom = [0u8; 4];
            if read_full(&mut self.reader, &mut bom)? != 4 {
                return Err("truncated section header".into());
            }
            self.big_endian = match u32::from_le_bytes(bom) {
                0x1A2B_3C4D => false,
                0x4D3C_2B1A => true,
                _ => return Err("bad byte-order magic in section header".into()),
            };
            self.iface_base = self.iface_base.saturating_add(self.ifaces.len() as u32);
            self.ifaces.clear();
            let len = self.u32(&head[4..8]) as usize;
            self.read_body(len, 4)?;
            return Ok(Some(SHB));
        }
        let ty = self.u32(&raw_type);
        let len = self.u32(&head[4..8]) as usize;
        if self.skip_packets && (ty == EPB || ty == SPB) {
            if len < 12 || !len.is_multiple_of(4) || len > MAX_BLOCK {
                return Err(format!("invalid block length {len}"));
            }
            let want = (len - 8) as u64;
            match self.skip {
                // A file: seek past the packet (a truncated last block is
                // found by the next header read, which comes up short).
                Some(skip) => skip(&mut self.reader, want).map_err(|e| e.to_string())?,
                None => {
                    let got =
                        std::io::copy(&mut (&mut self.reader).take(want), &mut std::io::sink())
                            .map_err(|e| e.to_string())?;
                    if got < want {
                        return Err("truncated block".into());
                    }
                }
            }
            return Ok(Some(ty));
        }
        self.read_body(len, 0)?;
        Ok(Some(ty))
    }

    /// Reads the rest of a block of total length `len`, of which 8 + `done`
    /// bytes are read, into `self.body` (without the trailing length).
    fn read_body(&mut self, len: usize, done: usize) -> Result<(), String> {
        if len < 12 + done || !len.is_multiple_of(4) || len > MAX_BLOCK {
            return Err(format!("invalid block length {len}"));
        }
        let n = len - 12 - done;
        // Grow with the data actually there, not with what the header claims.
        self.body.clear();
        let mut left = n + 4;
        let mut chunk = [0u8; 8192];
        while left > 0 {
            let want = left.min(chunk.len());
            let got = read_full(&mut self.reader, &mut chunk[..want])?;
            self.body.extend_from_slice(&chunk[..got]);
            if got < want {
                return Err("truncated block".into());
            }
            left -= want;
        }
        let trailer = self.u32(&self.body[n..]) as usize;
        if trailer != len {
            return Err(format!(
                "block length {len} does not match its trailer {trailer}"
            ));
        }
        self.body.truncate(n);
        Ok(())
    }

    fn u32(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    /// The next packet, its bytes copied into `buf`. `Ok(None)` at the end.
    ///
    /// Blocks are taken raw and only the fields lvsdiag needs are read, so
    /// options lvsdiag does not use (comments in any encoding) cannot fail a file.
    pub fn next(&mut self, buf: &mut Vec<u8>) -> Result<Option<NgPacket>, String> {
        loop {
            let Some(block_type) = self.next_block()? else {
                return Ok(None);
            };
            let big = self.big_endian;
            let b = &self.body[..];
            let u16_at = |o: usize| {
                b.get(o..o + 2).map(|x| {
                    if big {
                        u16::from_be_bytes([x[0], x[1]])
                    } else {
                        u16::from_le_bytes([x[0], x[1]])
                    }
                })
            };
            let u32_at = |o: usize| {
                b.get(o..o + 4).map(|x| {
                    let a = [x[0], x[1], x[2], x[3]];
                    if big {
                        u32::from_be_bytes(a)
                    } else {
                        u32::from_le_bytes(a)
                    }
                })
            };
            let short = || format!("pcapng block type {block_type:#x} is too short");
            match block_type {
                SHB => {}
                EPB | SPB if self.skip_packets => {}
                ISB if self.want_stats => {
                    let (Some(iface), Some(hi), Some(lo)) = (u32_at(0), u32_at(4), u32_at(8))
                    else {
                        return Err(short());
                    };
                    let res = self
                        .ifaces
                        .get(iface as usize)
                        .map_or(Tsres::Pow10(6), |i| i.1);
                    let mut st = IfStats {
                        end: Some(res.to_ns((u64::from(hi) << 32) | u64::from(lo))),
                        ..IfStats::default()
                    };
                    let mut o = 12;
                    while let (Some(code), Some(len)) = (u16_at(o), u16_at(o + 2)) {
                        let len = usize::from(len);
                        if code == 0 {
                            break;
                        }
                        // Timestamps as two 32-bit halves, high first; counters
                        // as 64-bit values in the section's byte order.
                        let ts = || {
                            let (h, l) = (u32_at(o + 4)?, u32_at(o + 8)?);
                            Some(res.to_ns((u64::from(h) << 32) | u64::from(l)))
                        };
                        let n = || {
                            let (a, b) = (u32_at(o + 4)?, u32_at(o + 8)?);
                            Some(if big {
                                (u64::from(a) << 32) | u64::from(b)
                            } else {
                                (u64::from(b) << 32) | u64::from(a)
                            })
                        };
                        if len == 8 {
                            match code {
                                2 => st.start = ts(),
                                3 => st.end = ts(),
                                5 => st.ifdrop = n(),
                                7 => st.osdrop = n(),
                                _ => {}
                            }
                        }
                        o += 4 + len.div_ceil(4) * 4;
                    }
                    let key = self.iface_base.saturating_add(iface);
                    // Counters are cumulative; one a block leaves out keeps
                    // its earlier value.
                    if let Some(old) = self.stats.get(&key).copied() {
                        self.stats.insert(
                            key,
                            IfStats {
                                start: st.start.or(old.start),
                                end: st.end.or(old.end),
                                ifdrop: st.ifdrop.or(old.ifdrop),
                                osdrop: st.osdrop.or(old.osdrop),
                            },
                        );
                    } else if self.stats.len() < MAX_INTERFACES {
                        self.stats.insert(key, st);
                    }
                }
                IDB => {
                    let linktype = u16_at(0).ok_or_else(short)?;
                    // Options from offset 8: code, length, value padded to 4.
                    let mut res = Tsres::Pow10(6);
                    let mut o = 8;
                    let mut name = None;
                    while let (Some(code), Some(len)) = (u16_at(o), u16_at(o + 2)) {
                        let len = usize::from(len);
                        if code == 0 {
                            break;
                        }
                        if code == 2 {
                            // if_name: UTF-8, not NUL-terminated (some writers add one).
                            let raw = b.get(o + 4..o + 4 + len).unwrap_or(&[]);
                            let raw = raw.split(|c| *c == 0).next().unwrap_or(&[]);
                            let n = String::from_utf8_lossy(raw).into_owned();
                            name = (!n.trim().is_empty()).then_some(n);
                        }
                        if code == 9 && len == 1 {
                            let r = b.get(o + 4).copied().unwrap_or(6);
                            res = if r & 0x80 != 0 {
                                Tsres::Pow2(u32::from(r & 0x7f))
                            } else {
                                Tsres::Pow10(u32::from(r))
                            };
                        }
                        o += 4 + len.div_ceil(4) * 4;
                    }
                    let link = LinkType::from_pcap(i32::from(linktype));
                    self.ifaces.push((link, res));
                    if self.described.len() < MAX_INTERFACES {
                        self.described.push(IfDesc {
                            link,
                            linktype,
                            name,
                        });
                    }
                }
                EPB => {
                    let (Some(iface), Some(hi), Some(lo), Some(caplen), Some(len)) =
                        (u32_at(0), u32_at(4), u32_at(8), u32_at(12), u32_at(16))
                    else {
                        return Err(short());
                    };
                    let (link, res) = *self.ifaces.get(iface as usize).ok_or_else(|| {
                        format!("packet for interface {iface} before its description")
                    })?;
                    let data = b.get(20..).unwrap_or(&[]);
                    buf.clear();
                    buf.extend_from_slice(&data[..(caplen as usize).min(data.len())]);
                    let ticks = (u64::from(hi) << 32) | u64::from(lo);
                    return Ok(Some(NgPacket {
                        link,
                        iface: self.iface_base.saturating_add(iface),
                        ts: res.to_ns(ticks),
                        wire_len: len,
                    }));
                }
                SPB => {
                    let link = self
                        .ifaces
                        .first()
                        .ok_or("simple packet before any interface description")?
                        .0;
                    let len = u32_at(0).ok_or_else(short)?;
                    let data = b.get(4..).unwrap_or(&[]);
                    buf.clear();
                    buf.extend_from_slice(&data[..(len as usize).min(data.len())]);
                    return Ok(Some(NgPacket {
                        link,
                        iface: self.iface_base,
                        ts: 0,
                        wire_len: len,
                    }));
                }
                _ => {}
            }
        }
    }
}

const SHB: u32 = 0x0A0D_0D0A;

/// Reads until `buf` is full or the input ends; returns the bytes read.
pub(super) fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize, String> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(got)
}
const IDB: u32 = 1;
const ISB: u32 = 5;
const EPB: u32 = 6;
const SPB: u32 = 3;

/// Every interface a pcapng file describes, in file order (sections
/// numbered on), read without reading its packets. `Err` when the file is
/// not pcapng, or breaks before describing an interface; a file that breaks
/// off later gives what came before.
pub fn interfaces(path: &Path) -> Result<Vec<IfDesc>, String> {
    let mut r = NgReader::open(path)?;
    r.skip_packets = true;
    let mut buf = Vec::new();
    loop {
        match r.next(&mut buf) {
            Ok(Some(_)) => {}
            Ok(None) => return Ok(r.described),
            Err(e) if r.described.is_empty() => return Err(e),
            Err(_) => return Ok(r.described),
        }
    }
}

/// The drops a pcapng file records in its Interface Statistics Blocks
/// (`isb_ifdrop` + `isb_osdrop` of each interface's last block), as losses
/// over the time the statistics cover, with the interface's number in the
/// file. Packet blocks are skipped unread. A file that is not pcapng, or
/// that breaks off, records what was read.
pub fn recorded_losses(path: &Path) -> Vec<(u32, Loss)> {
    let Ok(mut r) = NgReader::open(path) else {
        return Vec::new();
    };
    r.skip_packets = true;
    r.want_stats = true;
    let mut buf = Vec::new();
    while let Ok(Some(_)) = r.next(&mut buf) {}
    let mut v: Vec<(u32, Loss)> = r
        .stats
        .iter()
        .filter_map(|(iface, s)| {
            let n = s.ifdrop.unwrap_or(0).saturating_add(s.osdrop.unwrap_or(0));
            let from = s.start.unwrap_or(i64::MIN);
            (n > 0).then_some((
                *iface,
                Loss {
                    from,
                    to: s.end.filter(|e| *e >= from).unwrap_or(i64::MAX),
                    packets: Some(n),
                    cause: LossCause::Recorded,
                },
            ))
        })
        .collect();
    v.sort_by_key(|(i, _)| *i);
    v
}

#[cfg(test)]
mod tests {
    use super::Tsres;

    #[test]
    fn timestamp_resolutions() {
        assert_eq!(Tsres::Pow10(6).to_ns(1_500_000), 1_500_000_000);
        assert_eq!(Tsres::Pow10(9).to_ns(7), 7);
        assert_eq!(Tsres::Pow10(12).to_ns(5_000), 5);
        assert_eq!(Tsres::Pow2(10).to_ns(1024), 1_000_000_000);
        assert_eq!(Tsres::Pow10(0).to_ns(u64::MAX), i64::MAX);
    }
}
