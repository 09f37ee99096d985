//! Export: a flow's packets or a finding's evidence as pcapng, for Wireshark.
//! One interface per capture point (named after it), nanosecond timestamps.
//! Packets come from the capture files (read again) or, for live points,
//! from the recent packets the session keeps.

use crate::decode::{self, LinkType, Net, L4};
use crate::source::file::FileSource;
use crate::source::live::Pkt;
use crate::source::{PointInfo, RawPacket};
use std::collections::VecDeque;
use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::Path;

/// Which packets to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Every TCP packet to or from the client's address and port, at every
    /// point (LVS never changes the client side; TUN's inner header counts).
    Flow { client: IpAddr, cport: u16 },
    /// These (point, frame) packets.
    Frames(Vec<(u16, u64)>),
}

impl Selector {
    pub fn matches(&self, p: &RawPacket<'_>) -> bool {
        match self {
            Selector::Frames(f) => f.contains(&(p.point, p.frame)),
            Selector::Flow { client, cport } => {
                let Ok(pkt) = decode::decode(p.link, p.data) else {
                    return false;
                };
                match pkt.net {
                    Net::Ip(ip) => match ip.l4 {
                        L4::Tcp(t) => {
                            (ip.src == *client && t.sport == *cport)
                                || (ip.dst == *client && t.dport == *cport)
                        }
                        _ => false,
                    },
                    _ => false,
                }
            }
        }
    }
}

/// Recent packets of live points, bounded by bytes (oldest dropped first).
#[derive(Default)]
pub struct Ring {
    pkts: VecDeque<Pkt>,
    bytes: usize,
    cap: usize,
}

impl Ring {
    pub fn new(cap_bytes: usize) -> Ring {
        Ring {
            pkts: VecDeque::new(),
            bytes: 0,
            cap: cap_bytes,
        }
    }

    pub fn push(&mut self, p: Pkt) {
        self.bytes += p.cost as usize;
        self.pkts.push_back(p);
        while self.bytes > self.cap {
            match self.pkts.pop_front() {
                Some(old) => self.bytes -= old.cost as usize,
                None => break,
            }
        }
    }
}

/// A minimal pcapng writer: section header, one interface per point, and
/// enhanced packet blocks.
pub struct PcapNgWriter<W: Write> {
    w: W,
}

fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

impl<W: Write> PcapNgWriter<W> {
    pub fn new(mut w: W, points: &[(String, LinkType)]) -> std::io::Result<Self> {
        // Section header block.
        let mut shb = Vec::new();
        shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        let app = b"lvsdiag";
        push_option(&mut shb, 4, app); // shb_userappl
        push_option(&mut shb, 0, &[]);
        write_block(&mut w, 0x0A0D_0D0A, &shb)?;
        for (name, link) in points {
            let mut idb = Vec::new();
            idb.extend_from_slice(&link.pcap_number().to_le_bytes());
            idb.extend_from_slice(&0u16.to_le_bytes());
            idb.extend_from_slice(&0u32.to_le_bytes()); // snaplen: unlimited
            push_option(&mut idb, 2, name.as_bytes()); // if_name
            push_option(&mut idb, 9, &[9]); // if_tsresol: nanoseconds
            push_option(&mut idb, 0, &[]);
            write_block(&mut w, 1, &idb)?;
        }
        Ok(PcapNgWriter { w })
    }

    pub fn packet(
        &mut self,
        iface: u32,
        ts: i64,
        wire_len: u32,
        data: &[u8],
    ) -> std::io::Result<()> {
        let ts = ts.max(0) as u64;
        let mut epb = Vec::with_capacity(20 + pad4(data.len()));
        epb.extend_from_slice(&iface.to_le_bytes());
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&wire_len.max(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(data);
        epb.resize(20 + pad4(data.len()), 0);
        write_block(&mut self.w, 6, &epb)
    }

    /// An Interface Statistics Block: what interface `iface` dropped
    /// (`isb_ifdrop`: kernel and interface; `isb_osdrop`: lvsdiag's own)
    /// between `start` and `end`, so that a later analysis knows.
    pub fn interface_stats(
        &mut self,
        iface: u32,
        start: i64,
        end: i64,
        ifdrop: u64,
        osdrop: u64,
    ) -> std::io::Result<()> {
        let halves = |t: i64| {
            let t = t.max(0) as u64;
            let mut v = ((t >> 32) as u32).to_le_bytes().to_vec();
            v.extend_from_slice(&(t as u32).to_le_bytes());
            v
        };
        let mut isb = Vec::new();
        isb.extend_from_slice(&iface.to_le_bytes());
        isb.extend_from_slice(&halves(end));
        push_option(&mut isb, 2, &halves(start)); // isb_starttime
        push_option(&mut isb, 3, &halves(end)); // isb_endtime
        push_option(&mut isb, 5, &ifdrop.to_le_bytes()); // isb_ifdrop
        push_option(&mut isb, 7, &osdrop.to_le_bytes()); // isb_osdrop
        push_option(&mut isb, 0, &[]);
        write_block(&mut self.w, 5, &isb)
    }

    pub fn finish(mut self) -> std::io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

fn push_option(buf: &mut Vec<u8>, code: u16, value: &[u8]) {
    buf.extend_from_slice(&code.to_le_bytes());
    buf.extend_from_slice(&(value.len() as u16).to_le_bytes());
    buf.extend_from_slice(value);
    buf.resize(buf.len() + pad4(value.len()) - value.len(), 0);
}

fn write_block<W: Write>(w: &mut W, kind: u32, body: &[u8]) -> std::io::Result<()> {
    let total = (12 + body.len()) as u32;
    w.write_all(&kind.to_le_bytes())?;
    w.write_all(&total.to_le_bytes())?;
    w.write_all(body)?;
    w.write_all(&total.to_le_bytes())
}

/// Writes the selected packets, from every point, to `out` in time order.
/// File points are read again; live points come from `ring`. Returns the
/// number of packets written.
pub fn export(
    points: &[PointInfo],
    ring: Option<&Ring>,
    sel: &Selector,
    out: &Path,
) -> Result<usize, String> {
    let mut picked: Vec<Pkt> = Vec::new();
    for (i, p) in points.iter().enumerate() {
        let (Some(path), None) = (&p.path, &p.live) else {
            continue;
        };
        // A pcapng file with several interfaces is several points in a row:
        // read it once, from its first.
        if points[..i]
            .iter()
            .any(|q| q.path.as_ref() == Some(path) && q.live.is_none())
        {
            continue;
        }
        let mut src = FileSource::open(p.name.clone(), path).map_err(|e| e.0)?;
        let mut buf = Vec::with_capacity(2048);
        loop {
            buf.clear();
            if !src.advance(&mut buf) {
                break;
            }
            let raw = RawPacket {
                point: (i + usize::from(src.iface)) as u16,
                frame: src.info.packets,
                ts: src.ts,
                link: src.link,
                data: &buf,
                wire_len: src.wire_len,
                decoded: None,
            };
            if sel.matches(&raw) {
                picked.push(Pkt::new(
                    raw.point,
                    raw.frame,
                    raw.ts,
                    raw.link,
                    raw.wire_len,
                    &buf,
                ));
            }
        }
    }
    if let Some(r) = ring {
        picked.extend(r.pkts.iter().filter(|p| sel.matches(&p.raw())).cloned());
    }
    picked.sort_by_key(|p| (p.ts, p.point, p.frame));
    // One interface per (point, link type) that has packets.
    let mut ifaces: Vec<(u16, LinkType)> = Vec::new();
    for p in &picked {
        if !ifaces.contains(&(p.point, p.link)) {
            ifaces.push((p.point, p.link));
        }
    }
    let names: Vec<(String, LinkType)> = ifaces
        .iter()
        .map(|(pt, l)| {
            (
                points
                    .get(usize::from(*pt))
                    .map_or_else(|| format!("point{pt}"), |p| p.name.clone()),
                *l,
            )
        })
        .collect();
    let shown = crate::text::sanitize(&out.display().to_string());
    let f = std::fs::File::create(out).map_err(|e| format!("{shown}: cannot write: {e}"))?;
    let io = |e: std::io::Error| format!("{shown}: write failed: {e}");
    let mut w = PcapNgWriter::new(BufWriter::new(f), &names).map_err(io)?;
    for p in &picked {
        let idx = ifaces
            .iter()
            .position(|x| *x == (p.point, p.link))
            .expect("interface listed") as u32;
        w.packet(idx, p.ts, p.wire_len, p.data()).map_err(io)?;
    }
    w.finish().map_err(io)?;
    Ok(picked.len())
}
