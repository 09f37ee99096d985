//! Fallback reader for pcapng files whose interfaces have different link
//! types (libpcap refuses those: "an interface has a type ... different from
//! the type of the first interface"). Built on the `pcap-file` crate; each
//! packet carries its own interface's link type.

use crate::decode::LinkType;
use pcap_file::pcapng::PcapNgReader;
use pcap_file::Endianness;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

pub struct NgReader<R: Read = BufReader<File>> {
    reader: PcapNgReader<R>,
    /// Per interface: link type (None = unsupported) and ticks per second exponent.
    ifaces: Vec<(Option<LinkType>, Tsres)>,
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

pub struct NgPacket {
    pub link: Option<LinkType>,
    pub ts: i64,
    pub wire_len: u32,
}

impl NgReader {
    pub fn open(path: &Path) -> Result<NgReader, String> {
        let f = File::open(path).map_err(|e| e.to_string())?;
        NgReader::new(BufReader::new(f))
    }
}

impl<R: Read> NgReader<R> {
    pub fn new(r: R) -> Result<NgReader<R>, String> {
        let reader = PcapNgReader::new(r).map_err(|e| e.to_string())?;
        Ok(NgReader {
            reader,
            ifaces: Vec::new(),
        })
    }

    /// The next packet, its bytes copied into `buf`. `Ok(None)` at the end.
    ///
    /// Blocks are taken raw and only the fields lvsdiag needs are read, so
    /// options lvsdiag does not use (comments in any encoding) cannot fail a file.
    pub fn next(&mut self, buf: &mut Vec<u8>) -> Result<Option<NgPacket>, String> {
        loop {
            let big = self.reader.section().endianness == Endianness::Big;
            let block = match self.reader.next_raw_block() {
                None => return Ok(None),
                Some(Err(e)) => return Err(e.to_string()),
                Some(Ok(b)) => b,
            };
            let b = &block.body[..];
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
            let short = || format!("pcapng block type {:#x} is too short", block.type_);
            match block.type_ {
                SHB => self.ifaces.clear(),
                IDB => {
                    let linktype = u16_at(0).ok_or_else(short)?;
                    // Options from offset 8: code, length, value padded to 4.
                    let mut res = Tsres::Pow10(6);
                    let mut o = 8;
                    while let (Some(code), Some(len)) = (u16_at(o), u16_at(o + 2)) {
                        let len = usize::from(len);
                        if code == 0 {
                            break;
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
                    self.ifaces
                        .push((LinkType::from_pcap(i32::from(linktype)), res));
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
const IDB: u32 = 1;
const EPB: u32 = 6;
const SPB: u32 = 3;

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
