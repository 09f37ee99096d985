//! Drops are evidence too: losses injected at known capture points into real
//! lab fixtures. The packets are removed from the stream, and the points
//! report the loss as a kernel drop over the time the removed packets span
//! (what a live capture reports). A healthy fixture with drops reports no
//! error; a broken one still names its fault; and without the loss records
//! the same missing packets do make a (false) error, so the tests can fail.

use lvsdiag::decode::{self, Net, L4};
use lvsdiag::engine::{Analysis, Engine, Options};
use lvsdiag::finding::Severity;
use lvsdiag::model::Model;
use lvsdiag::source::file::FileSource;
use lvsdiag::source::merge::Merger;
use lvsdiag::source::{add_loss, Loss, LossCause, RawPacket};
use std::path::Path;

/// Analyzes a fixture, dropping the packets `drop` picks; with `report`,
/// each point records what it dropped as a loss.
fn analyze(fixture: &str, report: bool, drop: &dyn Fn(&RawPacket<'_>) -> bool) -> Analysis {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(fixture);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    let sources = files
        .iter()
        .map(|p| FileSource::open(p.file_stem().unwrap().to_string_lossy().into(), p).unwrap())
        .collect();
    let mut merger = Merger::new(sources);
    let mut engine = Engine::new(Model::default(), Options::default());
    let mut lost: Vec<Vec<Loss>> = vec![Vec::new(); files.len()];
    while let Some(p) = merger.next_packet() {
        if drop(&p) {
            add_loss(
                &mut lost[usize::from(p.point)],
                Loss {
                    from: p.ts,
                    to: p.ts,
                    packets: Some(1),
                    cause: LossCause::Kernel,
                },
            );
            continue;
        }
        engine.feed(&p);
    }
    let mut points = merger.finish();
    if report {
        for (p, l) in points.iter_mut().zip(lost) {
            p.losses = l;
        }
    }
    engine.finish(points)
}

/// TCP packets of a connection after its SYN (SYN-ACKs, ACKs, data), at
/// every point, for a quarter of the clients (by port): as if every point
/// had lost them.
fn after_syn_for_some_clients(p: &RawPacket<'_>) -> bool {
    let Ok(pkt) = decode::decode(p.link, p.data) else {
        return false;
    };
    let Net::Ip(ip) = pkt.net else { return false };
    let L4::Tcp(t) = ip.l4 else { return false };
    if t.syn() && !t.ack_flag() {
        return false;
    }
    let client_port = if t.dport == 80 || t.dport == 8080 {
        t.sport
    } else {
        t.dport
    };
    // Linux gives connect() even ports: pick by the port halved.
    (client_port / 2) % 4 == 1
}

fn errors(a: &Analysis) -> Vec<(&'static str, Option<String>)> {
    a.findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.code, f.rs_label()))
        .collect()
}

/// The healthy fixtures that last long enough (over the 3 s a handshake is
/// given) for a connection whose replies are lost to count as failed; the
/// healthy real servers of the broken fixtures are the NAT and TUN cases
/// (next test).
#[test]
fn a_healthy_fixture_with_drops_reports_no_error() {
    for fixture in ["dr-director-failover"] {
        // The same missing packets, unreported, read as real servers that do
        // not answer: the test can tell.
        let blind = analyze(fixture, false, &after_syn_for_some_clients);
        assert!(
            !errors(&blind).is_empty(),
            "{fixture}: dropping replies unreported must look like a fault"
        );
        let a = analyze(fixture, true, &after_syn_for_some_clients);
        assert_eq!(errors(&a), [], "{fixture}");
        // What was lowered says why, naming the drops.
        let weakened: Vec<_> = a.findings.iter().filter(|f| f.weakened).collect();
        assert!(!weakened.is_empty(), "{fixture}");
        for f in weakened {
            let l = f.losses.as_deref().unwrap();
            assert!(l.contains("dropped") && l.contains("(kernel)"), "{l}");
            assert!(l.contains("not proven"), "{l}");
        }
        // And the verdict does not call it healthy either way.
        assert!(a
            .services
            .iter()
            .all(|s| s.verdict != lvsdiag::engine::Verdict::Healthy));
    }
}

/// The broken real server keeps its error; the healthy ones of the same
/// fixtures get none, although the same missing packets unreported give them one.
#[test]
fn a_broken_fixture_with_drops_still_names_its_fault() {
    for (fixture, code) in [
        ("dr-rs-no-vip", "dr-rs-no-reply"),
        ("nat-rs-firewall", "nat-rs-no-reply"),
        ("tun-rp-filter", "tun-rs-no-reply"),
    ] {
        let clean = analyze(fixture, true, &|_| false);
        let want: Vec<_> = errors(&clean)
            .into_iter()
            .filter(|(c, _)| *c == code)
            .collect();
        assert_eq!(want.len(), 1, "{fixture}: {:?}", errors(&clean));
        let a = analyze(fixture, true, &after_syn_for_some_clients);
        let got = errors(&a);
        assert!(got.contains(&want[0]), "{fixture}: {got:?}");
        let f = a
            .findings
            .iter()
            .find(|f| f.code == code && f.rs_label() == want[0].1)
            .unwrap();
        assert!(!f.weakened);
        assert!(f.losses.is_some(), "the drops are named next to it");
        assert_eq!(
            got,
            errors(&clean),
            "{fixture}: no error on a healthy real server"
        );
        let blind = analyze(fixture, false, &after_syn_for_some_clients);
        assert!(
            errors(&blind).len() > errors(&clean).len(),
            "{fixture}: unreported, the drops make false errors: {:?}",
            errors(&blind)
        );
    }
}

#[test]
fn drops_at_one_point_are_outweighed_by_a_point_without_drops() {
    // The director's capture loses every reply-side packet of a third of
    // the connections; the client and the real servers lose nothing.
    let a = analyze("dr-director-failover", true, &|p| {
        p.point == 1 && after_syn_for_some_clients(p)
    });
    assert_eq!(errors(&a), []);
    assert!(
        a.findings.iter().all(|f| f.severity < Severity::Warning),
        "{:?}",
        a.findings
    );
}
