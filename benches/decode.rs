//! Decode speed: every frame of a lab fixture, decoded from memory.
//! `cargo bench --bench decode`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lvsdiag::decode::{decode, LinkType};

fn frames() -> Vec<Vec<u8>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/dr-arp-problem/router-eth1.pcap"
    );
    let mut cap = pcap::Capture::from_file(path).expect("fixture");
    let mut out = Vec::new();
    while let Ok(p) = cap.next_packet() {
        out.push(p.data.to_vec());
    }
    out
}

fn bench(c: &mut Criterion) {
    let frames = frames();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("ethernet fixture frames", |b| {
        b.iter(|| {
            for f in &frames {
                std::hint::black_box(decode(LinkType::Ethernet, std::hint::black_box(f)).ok());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
