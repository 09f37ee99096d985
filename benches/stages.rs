//! Where each nanosecond of the offline pass goes, stage by stage, on a
//! generated DR segment capture (20 000 connections, ~250k packets) held in
//! memory. Each stage is timed alone, per packet:
//!
//! - `read`: the classic pcap reader cutting the file into records (no copy);
//! - `decode`: link, IP and TCP headers into a `Packet`;
//! - `lookup`: the flow key of each packet found in a table of every flow
//!   (the hash and probe only);
//! - `observe`: the flow table (lookup, handshake copies, the life after the
//!   handshake, sweeps), finished flows recycled at once;
//! - `engine, no checks`: `observe` plus the interpretation and census of
//!   each finished connection (what `lvsdiag watch` counts with);
//! - `engine`: everything `lvsdiag analyze` does after decoding, the 35
//!   checks and the report's conclusions included.
//!
//! `engine` − `observe`, times packets per connection, is what a finished
//! connection costs. `cargo bench --bench stages`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lvsdiag::decode::{decode, DecodeError, LinkType, Net, Packet, L4};
use lvsdiag::engine::{Engine, Options};
use lvsdiag::finding::Evidence;
use lvsdiag::flow::table::FlowTable;
use lvsdiag::flow::FlowKey;
use lvsdiag::model::{Model, Proto};
use lvsdiag::source::classic::{PcapReader, Rec};
use lvsdiag::source::{PointInfo, RawPacket};
use rustc_hash::FxHashMap;

const CONNECTIONS: u64 = 20_000;

/// Each record: its time, its bytes, and it decoded.
type Record = (i64, Vec<u8>, Packet);

/// The file's bytes, and each record.
fn capture() -> (Vec<u8>, Vec<Record>) {
    let path =
        std::env::temp_dir().join(format!("lvsdiag-bench-stages-{}.pcap", std::process::id()));
    lvsdiag::generate::dr(&path, CONNECTIONS).expect("generate");
    let file = std::fs::read(&path).expect("read back");
    std::fs::remove_file(&path).ok();
    let (mut r, _) = PcapReader::open(&file[..]).expect("a pcap file");
    let (mut block, mut recs) = (Vec::new(), Vec::new());
    let mut out = Vec::new();
    loop {
        recs.clear();
        let more = r.fill(&mut block, &mut recs).expect("whole");
        for x in &recs {
            let data = block[x.start..x.end].to_vec();
            let p = decode(LinkType::Ethernet, &data).expect("decodes");
            out.push((x.ts, data, p));
        }
        if !more {
            break;
        }
    }
    (file, out)
}

fn bench(c: &mut Criterion) {
    let (file, pkts) = capture();
    let mut g = c.benchmark_group("stages");
    g.throughput(Throughput::Elements(pkts.len() as u64));

    g.bench_function("read", |b| {
        let (mut block, mut recs): (Vec<u8>, Vec<Rec>) = (Vec::new(), Vec::new());
        b.iter(|| {
            let (mut r, _) = PcapReader::open(&file[..]).expect("a pcap file");
            let mut n = 0;
            loop {
                recs.clear();
                let more = r.fill(&mut block, &mut recs).expect("whole");
                n += recs.len();
                if !more {
                    break;
                }
            }
            std::hint::black_box(n)
        })
    });

    g.bench_function("decode", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for (_, data, _) in &pkts {
                n += usize::from(decode(LinkType::Ethernet, data).is_ok());
            }
            std::hint::black_box(n)
        })
    });

    let keys: Vec<FlowKey> = pkts
        .iter()
        .filter_map(|(_, _, p)| match &p.net {
            Net::Ip(ip) => match &ip.l4 {
                L4::Tcp(t) => Some(FlowKey {
                    proto: Proto::Tcp,
                    client: ip.src,
                    cport: t.sport,
                }),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let table: FxHashMap<FlowKey, u32> = keys.iter().map(|k| (*k, 0)).collect();
    g.bench_function("lookup", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for k in &keys {
                n += usize::from(table.contains_key(k));
            }
            std::hint::black_box(n)
        })
    });

    g.bench_function("observe", |b| {
        b.iter(|| {
            let mut t = FlowTable::new(100_000);
            let mut retired = Vec::new();
            for (i, (ts, _, p)) in pkts.iter().enumerate() {
                let at = Evidence {
                    point: 0,
                    frame: i as u64 + 1,
                    time: *ts,
                };
                if let Net::Ip(ip) = &p.net {
                    if let L4::Tcp(tcp) = &ip.l4 {
                        t.observe_tcp(at, p.l2, ip, tcp, &mut retired);
                    }
                }
                for f in retired.drain(..) {
                    t.recycle(f);
                }
            }
            std::hint::black_box(t.len())
        })
    });

    let decoded: Vec<Result<Packet, DecodeError>> = pkts
        .iter()
        .map(|(_, data, _)| decode(LinkType::Ethernet, data))
        .collect();
    let feed = |e: &mut Engine| {
        for (i, ((ts, data, _), d)) in pkts.iter().zip(&decoded).enumerate() {
            e.feed(&RawPacket {
                point: 0,
                frame: i as u64 + 1,
                ts: *ts,
                link: LinkType::Ethernet,
                data,
                wire_len: data.len() as u32,
                decoded: Some(d),
            });
        }
    };
    g.bench_function("engine, no checks", |b| {
        b.iter(|| {
            let mut e = Engine::new(Model::default(), Options::default()).without_checks();
            feed(&mut e);
            std::hint::black_box(e.packets)
        })
    });
    g.bench_function("engine", |b| {
        b.iter(|| {
            let mut e = Engine::new(Model::default(), Options::default());
            feed(&mut e);
            let point = PointInfo::ethernet("dr", pkts.len() as u64);
            std::hint::black_box(e.finish(vec![point]).findings.len())
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
