//! Synthetic LVS captures for benchmarks and bound tests (hidden
//! `lvsdiag generate` subcommand). Addresses are documentation ranges only.
//!
//! - `dr`: a DR segment seen from a mirror port: each connection's client
//!   packets arrive from the gateway and are re-sent by the director to a real
//!   server; real servers answer the gateway directly. One real server in
//!   twenty is broken (no reply: SYN retransmits), and one real server
//!   answers ARP for the VIP.
//! - `dr-healthy`: the same segment with neither fault.
//! - `dr-open`: the faulty segment with every connection left open.
//! - `syn-flood`: SYNs to the VIP from many distinct client addresses/ports.
//! - `long-lived`: ten DR connections carrying `N` data segments between
//!   them over hours (each segment arriving, forwarded, and acknowledged by
//!   the real server), sequence numbers wrapping past 2^32: healthy.
//! - `rst-storm`: ten established DR connections, then `N` resets from the
//!   VIP to their clients and to ports no connection uses.
//! - `arp-storm`: ARP announcements from many distinct MACs and addresses.

use etherparse::PacketBuilder;
use pcap::{Capture, Linktype, Packet, PacketHeader, Savefile};
use std::net::Ipv4Addr;
use std::path::Path;

const VIP: [u8; 4] = [192, 0, 2, 100];
const ROUTER: [u8; 6] = [2, 0, 0, 0, 0x01, 0x01];
const DIRECTOR: [u8; 6] = [2, 0, 0, 0, 0x0d, 0];

fn rs_mac(i: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0x10 + i, 0]
}

struct Writer {
    out: Savefile,
    buf: Vec<u8>,
    ts_us: i64,
    pub packets: u64,
}

impl Writer {
    fn new(path: &Path) -> Result<Writer, String> {
        let cap = Capture::dead(Linktype::ETHERNET).map_err(|e| e.to_string())?;
        let out = cap
            .savefile(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Writer {
            out,
            buf: Vec::with_capacity(256),
            ts_us: 1_700_000_000_000_000,
            packets: 0,
        })
    }

    /// Flushes the file; the number of packets written.
    fn finish(mut self) -> Result<u64, String> {
        self.out.flush().map_err(|e| e.to_string())?;
        Ok(self.packets)
    }

    fn emit(&mut self) {
        let h = PacketHeader {
            ts: libc::timeval {
                tv_sec: (self.ts_us / 1_000_000) as libc::time_t,
                tv_usec: (self.ts_us % 1_000_000) as libc::suseconds_t,
            },
            caplen: self.buf.len() as u32,
            len: self.buf.len() as u32,
        };
        self.out.write(&Packet {
            header: &h,
            data: &self.buf,
        });
        self.packets += 1;
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        src_mac: [u8; 6],
        dst_mac: [u8; 6],
        src: [u8; 4],
        dst: [u8; 4],
        ttl: u8,
        sport: u16,
        dport: u16,
        seq: u32,
        ack: Option<u32>,
        flags: &str,
        payload: &[u8],
    ) {
        self.buf.clear();
        let mut b = PacketBuilder::ethernet2(src_mac, dst_mac)
            .ipv4(src, dst, ttl)
            .tcp(sport, dport, seq, 64240);
        for f in flags.chars() {
            b = match f {
                'S' => b.syn(),
                'F' => b.fin(),
                'R' => b.rst(),
                'P' => b.psh(),
                _ => b,
            };
        }
        if let Some(a) = ack {
            b = b.ack(a);
        }
        b.write(&mut self.buf, payload).expect("vec write");
        self.emit();
    }

    /// A client segment to the VIP as the director's mirror port shows it:
    /// arriving from the gateway, then forwarded to real server MAC `rs`.
    #[allow(clippy::too_many_arguments)]
    fn client_seg(
        &mut self,
        rs: [u8; 6],
        c: [u8; 4],
        port: u16,
        seq: u32,
        ack: Option<u32>,
        flags: &str,
        payload: &[u8],
    ) {
        for (src, dst) in [(ROUTER, DIRECTOR), (DIRECTOR, rs)] {
            self.tcp(src, dst, c, VIP, 63, port, 80, seq, ack, flags, payload);
        }
    }

    fn arp(&mut self, op: u16, sha: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) {
        self.buf.clear();
        self.buf
            .extend_from_slice(&if op == 1 { [0xff; 6] } else { ROUTER });
        self.buf.extend_from_slice(&sha);
        self.buf
            .extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4]);
        self.buf.extend_from_slice(&op.to_be_bytes());
        self.buf.extend_from_slice(&sha);
        self.buf.extend_from_slice(&spa);
        self.buf.extend_from_slice(&[0; 6]);
        self.buf.extend_from_slice(&tpa);
        self.emit();
    }
}

/// A client address in 198.51.100.0/24 or 203.0.113.0/24.
fn client(i: u64) -> [u8; 4] {
    let net = if (i / 250).is_multiple_of(2) {
        [198, 51, 100]
    } else {
        [203, 0, 113]
    };
    [net[0], net[1], net[2], 1 + (i % 250) as u8]
}

pub fn dr(path: &Path, connections: u64) -> Result<u64, String> {
    dr_with(path, connections, true, false)
}

/// The DR segment with its connections left open (no FIN): as many live
/// connections as asked, one in twenty failed (the TUI benchmark, the
/// memory bound for many long-lived connections).
pub fn dr_open(path: &Path, connections: u64) -> Result<u64, String> {
    dr_with(path, connections, true, true)
}

/// The same DR segment with no fault in it: every real server answers, and
/// only the director claims the VIP (the stream `bench/live` replays).
pub fn dr_healthy(path: &Path, connections: u64) -> Result<u64, String> {
    dr_with(path, connections, false, false)
}

fn dr_with(path: &Path, connections: u64, faults: bool, open: bool) -> Result<u64, String> {
    let mut w = Writer::new(path)?;
    let rss = 4u8;
    // The director and the real servers resolve each other; with faults,
    // rs4 also answers for the VIP.
    w.arp(2, DIRECTOR, VIP, [192, 0, 2, 1]);
    for i in 1..=rss {
        w.arp(2, rs_mac(i), [192, 0, 2, 10 + i], [192, 0, 2, 2]);
    }
    if faults {
        w.arp(2, rs_mac(rss), VIP, [192, 0, 2, 1]);
    }
    let req = b"GET / HTTP/1.1\r\nHost: 192.0.2.100\r\n\r\n";
    let resp = [b'x'; 512];
    for n in 0..connections {
        // Open connections must not reuse an address and port.
        let (c, cport) = if open {
            (client(n / 60_000), 1024 + (n % 60_000) as u16)
        } else {
            (client(n), 20_000 + (n % 40_000) as u16)
        };
        let rs = 1 + (n % u64::from(rss)) as u8;
        let isn = (n as u32).wrapping_mul(2_654_435_761);
        let sisn = isn ^ 0x5a5a_5a5a;
        let broken = faults && n % 20 == 7; // scheduled to a real server that does not answer
        let both = |w: &mut Writer, seq: u32, ack: Option<u32>, flags: &str, payload: &[u8]| {
            w.tcp(
                ROUTER, DIRECTOR, c, VIP, 63, cport, 80, seq, ack, flags, payload,
            );
            w.ts_us += 3;
            w.tcp(
                DIRECTOR,
                rs_mac(rs),
                c,
                VIP,
                62,
                cport,
                80,
                seq,
                ack,
                flags,
                payload,
            );
            w.ts_us += 40;
        };
        both(&mut w, isn, None, "S", &[]);
        if broken {
            w.ts_us += 1_000;
            both(&mut w, isn, None, "S", &[]);
            continue;
        }
        w.tcp(
            rs_mac(rs),
            ROUTER,
            VIP,
            c,
            64,
            80,
            cport,
            sisn,
            Some(isn + 1),
            "S",
            &[],
        );
        w.ts_us += 50;
        both(&mut w, isn + 1, Some(sisn + 1), "", &[]);
        both(&mut w, isn + 1, Some(sisn + 1), "P", req);
        w.tcp(
            rs_mac(rs),
            ROUTER,
            VIP,
            c,
            64,
            80,
            cport,
            sisn + 1,
            Some(isn + 1 + req.len() as u32),
            "P",
            &resp,
        );
        w.ts_us += 50;
        if open {
            continue;
        }
        both(
            &mut w,
            isn + 1 + req.len() as u32,
            Some(sisn + 1 + resp.len() as u32),
            "F",
            &[],
        );
        w.tcp(
            rs_mac(rs),
            ROUTER,
            VIP,
            c,
            64,
            80,
            cport,
            sisn + 1 + resp.len() as u32,
            Some(isn + 2 + req.len() as u32),
            "F",
            &[],
        );
        w.ts_us += 50;
        both(
            &mut w,
            isn + 2 + req.len() as u32,
            Some(sisn + 2 + resp.len() as u32),
            "",
            &[],
        );
    }
    w.finish()
}

pub fn syn_flood(path: &Path, syns: u64) -> Result<u64, String> {
    let mut w = Writer::new(path)?;
    for n in 0..syns {
        let c = client(n / 60_000);
        w.tcp(
            ROUTER,
            DIRECTOR,
            c,
            VIP,
            63,
            1024 + (n % 60_000) as u16,
            80,
            n as u32,
            None,
            "S",
            &[],
        );
        w.ts_us += 2;
    }
    w.finish()
}

/// A UDP flood: `datagrams` requests to VIP:53, each from another client
/// port, never answered.
pub fn udp_flood(path: &Path, datagrams: u64) -> Result<u64, String> {
    let mut w = Writer::new(path)?;
    for n in 0..datagrams {
        let c = client(n / 60_000);
        w.buf.clear();
        PacketBuilder::ethernet2(ROUTER, DIRECTOR)
            .ipv4(c, VIP, 63)
            .udp(1024 + (n % 60_000) as u16, 53)
            .write(&mut w.buf, &[0u8; 32])
            .expect("vec write");
        w.emit();
        w.ts_us += 2;
    }
    w.finish()
}

const LONG_CONNS: u64 = 10;

/// Opens `LONG_CONNS` DR connections (handshake at the director's mirror
/// port: arriving, forwarded, answered); returns their client ports' base
/// and the client and server sequence numbers after the handshake.
fn open_long(w: &mut Writer) -> (u16, u32, u32) {
    let (c, base) = (client(0), 40_000u16);
    // Close to the top of sequence space: the data wraps past 2^32.
    let (cseq, sseq) = (u32::MAX - 100_000, u32::MAX - 50_000);
    for i in 0..LONG_CONNS {
        let (p, rs) = (base + i as u16, rs_mac((i % 3) as u8 + 1));
        w.client_seg(rs, c, p, cseq, None, "S", &[]);
        w.tcp(
            rs,
            ROUTER,
            VIP,
            c,
            64,
            80,
            p,
            sseq,
            Some(cseq.wrapping_add(1)),
            "S",
            &[],
        );
        let (cs, ss) = (cseq.wrapping_add(1), sseq.wrapping_add(1));
        w.client_seg(rs, c, p, cs, Some(ss), "", &[]);
        w.ts_us += 100;
    }
    (base, cseq.wrapping_add(1), sseq.wrapping_add(1))
}

pub fn long_lived(path: &Path, segments: u64) -> Result<u64, String> {
    let mut w = Writer::new(path)?;
    let c = client(0);
    let (base, cseq0, sseq) = open_long(&mut w);
    let data = [0x55u8; 1400];
    // Spread over three hours: a segment of each connection every few seconds.
    let step = ((3 * 3600 * 1_000_000) / segments.max(1)).max(1) as i64;
    let mut seq = vec![cseq0; LONG_CONNS as usize];
    for n in 0..segments {
        let i = (n % LONG_CONNS) as usize;
        let (p, rs) = (base + i as u16, rs_mac((i % 3) as u8 + 1));
        let s = seq[i];
        w.client_seg(rs, c, p, s, Some(sseq), "P", &data);
        seq[i] = s.wrapping_add(data.len() as u32);
        w.tcp(rs, ROUTER, VIP, c, 64, 80, p, sseq, Some(seq[i]), "", &[]);
        w.ts_us += step;
    }
    w.finish()
}

pub fn rst_storm(path: &Path, resets: u64) -> Result<u64, String> {
    let mut w = Writer::new(path)?;
    let c = client(0);
    let (base, _, sseq) = open_long(&mut w);
    for n in 0..resets {
        // Half to the connections' clients, half to ports none uses.
        let p = if n % 2 == 0 {
            base + (n / 2 % LONG_CONNS) as u16
        } else {
            1024 + (n % 30_000) as u16
        };
        w.tcp(
            DIRECTOR,
            ROUTER,
            VIP,
            c,
            64,
            80,
            p,
            sseq.wrapping_add(n as u32),
            None,
            "R",
            &[],
        );
        w.ts_us += 2;
    }
    w.finish()
}

pub fn arp_storm(path: &Path, macs: u64) -> Result<u64, String> {
    let mut w = Writer::new(path)?;
    for n in 0..macs {
        let mac = [
            2,
            0xaa,
            (n >> 24) as u8,
            (n >> 16) as u8,
            (n >> 8) as u8,
            n as u8,
        ];
        // Every MAC claims the VIP and an address of its own.
        w.arp(2, mac, VIP, [192, 0, 2, 1]);
        let own = Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 51, 100, 0)) + (n % 256) as u32);
        w.arp(2, mac, own.octets(), [192, 0, 2, 1]);
        w.ts_us += 10;
    }
    w.finish()
}

/// Feeds a generated (Ethernet) file to `e` as capture point 0; the number
/// of packets fed. For benchmarks and tests that hold the engine themselves.
pub fn feed(e: &mut crate::engine::Engine, path: &Path) -> Result<u64, String> {
    let mut cap = Capture::from_file(path).map_err(|x| format!("{}: {x}", path.display()))?;
    let mut n = 0;
    while let Ok(p) = cap.next_packet() {
        n += 1;
        e.feed(&crate::source::RawPacket {
            point: 0,
            frame: n,
            ts: p.header.ts.tv_sec * 1_000_000_000 + p.header.ts.tv_usec * 1000,
            link: crate::decode::LinkType::Ethernet,
            data: p.data,
            wire_len: p.header.len,
            decoded: None,
        });
    }
    Ok(n)
}
