//! Replays the fuzzers' saved inputs (`fuzz/regressions/<target>/`: crashes
//! found and fixed, and interesting inputs the fuzzers kept) through the same
//! entry points the fuzz targets use, so CI catches regressions without
//! running the fuzzers.

use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|_| panic!("{} missing", dir.display())) {
        let p = e.unwrap().path();
        f(&std::fs::read(&p).unwrap());
        n += 1;
    }
    assert!(n > 0, "no saved inputs in {}", dir.display());
    n
}

#[test]
fn decode_inputs() {
    replay("decode", lvsdiag::fuzzing::decode);
}

#[test]
fn pcap_inputs() {
    replay("pcap", lvsdiag::fuzzing::pcap);
}

#[test]
fn pcapng_inputs() {
    replay("pcapng", lvsdiag::fuzzing::pcapng);
}

#[test]
fn ipvsadm_inputs() {
    replay("ipvsadm", lvsdiag::fuzzing::ipvsadm);
}

#[test]
fn engine_inputs() {
    replay("engine", lvsdiag::fuzzing::engine);
}

#[test]
fn ipvs_netlink_inputs() {
    replay("ipvs_netlink", lvsdiag::fuzzing::ipvs_netlink);
}

#[test]
fn snapshot_inputs() {
    replay("snapshot", lvsdiag::fuzzing::snapshot);
}

#[test]
fn keepalived_inputs() {
    replay("keepalived", lvsdiag::fuzzing::keepalived);
}
