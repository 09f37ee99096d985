//! Entry points shared by the cargo-fuzz targets (`fuzz/`) and the corpus
//! replay test (`tests/fuzz_replay.rs`): each takes arbitrary bytes and must
//! never panic, hang or grow without bound.

use crate::decode::{self, LinkType};
use crate::engine::{Engine, Options};
use crate::model::{ipvsadm, Model};
use crate::source::pcapng::NgReader;
use crate::source::RawPacket;

const LINKS: [LinkType; 5] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::RawIp,
    LinkType::Null,
];

/// First byte picks the link type; the rest is one frame.
pub fn decode(data: &[u8]) {
    if let Some((&sel, frame)) = data.split_first() {
        let _ = decode::decode(LINKS[usize::from(sel) % LINKS.len()], frame);
        let _ = decode::sll2::Sll2::parse(frame);
    }
}

/// A whole pcapng file, read packet by packet (bounded).
pub fn pcapng(data: &[u8]) {
    if let Ok(mut r) = NgReader::new(std::io::Cursor::new(data)) {
        let mut buf = Vec::new();
        for _ in 0..10_000 {
            match r.next(&mut buf) {
                Ok(Some(_)) => {}
                _ => break,
            }
        }
    }
}

/// A whole classic pcap file, read in blocks of 1 to 256 bytes (the first
/// byte says how many), so that records cross and outgrow blocks.
pub fn pcap(data: &[u8]) {
    let Some((&n, file)) = data.split_first() else {
        return;
    };
    let Ok((r, _)) = crate::source::classic::PcapReader::open(file) else {
        return;
    };
    let mut r = r.with_block(usize::from(n) + 1);
    let (mut block, mut recs) = (Vec::new(), Vec::new());
    for _ in 0..10_000 {
        recs.clear();
        match r.fill(&mut block, &mut recs) {
            Ok(true) => {
                for x in &recs {
                    assert!(x.start <= x.end && x.end <= block.len());
                }
            }
            _ => break,
        }
    }
}

/// IPVS configuration text in either format.
pub fn ipvsadm(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = ipvsadm::parse(&text, "fuzz");
}

fn points(frame: &[u64; 4]) -> Vec<crate::source::PointInfo> {
    (0..4)
        .map(|i| crate::source::PointInfo::ethernet(&format!("p{i}"), frame[i]))
        .collect()
}

/// A stream of frames through the whole engine and every check. Layout:
/// repeated `[point, link selector, len_hi, len_lo, frame...]`, time
/// advancing 1 ms per frame.
pub fn engine(data: &[u8]) {
    let mut e = Engine::new(
        Model::default(),
        Options {
            mode: None,
            max_flows: 64,
            keep_flows: 8,
        },
    );
    let mut rest = data;
    let mut frame = [0u64; 4];
    let mut ts = 1_700_000_000_000_000_000i64;
    while rest.len() >= 4 {
        let point = rest[0] % 4;
        let link = LINKS[usize::from(rest[1]) % LINKS.len()];
        let len = (usize::from(rest[2]) << 8 | usize::from(rest[3])).min(rest.len() - 4);
        let (pkt, tail) = rest[4..].split_at(len);
        rest = tail;
        frame[usize::from(point)] += 1;
        ts += 1_000_000;
        e.feed(&RawPacket {
            point: u16::from(point),
            frame: frame[usize::from(point)],
            ts,
            link,
            data: pkt,
            wire_len: len as u32,
            decoded: None,
        });
        // What the TUI publishes mid-stream, from the live flows in place.
        if frame.iter().sum::<u64>() % 64 == 0 {
            let _ = e.overview(points(&frame));
        }
    }
    let o = e.finish_overview(points(&frame));
    let a = o.analysis;
    let _ = crate::report::json::render(&a);
    let _ = crate::report::text::render(&a, &crate::report::text::Style { color: false });
}

/// IPVS generic netlink replies: the bytes as a reply stream for every
/// decoder, and as the nested service / destination attributes.
pub fn ipvs_netlink(data: &[u8]) {
    use crate::system::ipvs;
    let _ = ipvs::decode_services(data);
    let _ = ipvs::decode_dests(data, 2);
    let _ = ipvs::decode_dests(data, 10);
    let _ = ipvs::decode_config(data);
    let _ = ipvs::decode_daemons(data);
    let _ = ipvs::decode_info(data);
    let _ = ipvs::decode_family_id(data, ipvs::FAMILY);
    let _ = ipvs::decode_service(data);
    let _ = ipvs::decode_dest(data, 2);
    let _ = ipvs::decode_dest(data, 10);
}

/// Snapshot-side input: the bytes as `/proc/net/tcp` text, as an nftables
/// ruleset evaluated for a forwarded SYN (IPv4 and IPv6), and as snapshot
/// files run through every configuration check.
pub fn snapshot(data: &[u8]) {
    use crate::system::nft::{fate, Packet};
    let _ = crate::system::sockets::parse(&String::from_utf8_lossy(data));
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        for dst in ["192.0.2.100", "2001:db8::100"] {
            let p = Packet {
                dst: dst.parse().expect("literal"),
                port: 80,
                iif: Some("eth0".into()),
            };
            let _ = fate(&v, &p);
        }
    }
    if let Ok(s) = crate::system::parse(data) {
        let _ = crate::system::command::check(s);
    }
}

/// keepalived configuration text (the parser, the tree, the model).
pub fn keepalived(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(c) = crate::model::keepalived::parse_str(&text, "fuzz.conf") {
        let _ = c.services();
        let m = Model {
            services: Vec::new(),
            keepalived: vec![c],
            ..Model::default()
        };
        let _ = crate::report::model::text(&m);
        let _ = crate::report::model::json(&m);
    }
}
