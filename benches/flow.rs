//! Flow table and checks: a generated DR segment capture (2000 connections,
//! ~25k packets) fed from memory through the whole engine.
//! `cargo bench --bench flow`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lvsdiag::decode::LinkType;
use lvsdiag::engine::{Engine, Options};
use lvsdiag::model::Model;
use lvsdiag::source::{PointInfo, RawPacket};

fn packets() -> Vec<(i64, Vec<u8>)> {
    let path = std::env::temp_dir().join(format!("lvsdiag-bench-flow-{}.pcap", std::process::id()));
    lvsdiag::generate::dr(&path, 2000).expect("generate");
    let mut cap = pcap::Capture::from_file(&path).expect("read back");
    let mut out = Vec::new();
    while let Ok(p) = cap.next_packet() {
        let ts = p.header.ts.tv_sec * 1_000_000_000 + p.header.ts.tv_usec * 1000;
        out.push((ts, p.data.to_vec()));
    }
    std::fs::remove_file(path).ok();
    out
}

fn bench(c: &mut Criterion) {
    let pkts = packets();
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(pkts.len() as u64));
    g.bench_function("dr segment, 2000 connections", |b| {
        b.iter(|| {
            let mut e = Engine::new(Model::default(), Options::default());
            for (i, (ts, data)) in pkts.iter().enumerate() {
                e.feed(&RawPacket {
                    point: 0,
                    frame: i as u64 + 1,
                    ts: *ts,
                    link: LinkType::Ethernet,
                    data,
                    wire_len: data.len() as u32,
                    decoded: None,
                });
            }
            let point = PointInfo::ethernet("dr", pkts.len() as u64);
            std::hint::black_box(e.finish(vec![point]).findings.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
