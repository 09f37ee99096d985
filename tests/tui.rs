//! The TUI's screens for fixture input, drawn with ratatui's TestBackend, and
//! its keys: what an operator sees and does during an incident.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lvsdiag::export::Selector;
use lvsdiag::model::Model;
use lvsdiag::session::{Published, Session, SessionOptions};
use lvsdiag::source::LiveInfo;
use lvsdiag::tui::app::{Action, App, View};
use lvsdiag::tui::ui;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::tui::{screen, session_of};

fn fixture(name: &str) -> (Session, Arc<Published>) {
    fixture_with(name, Model::default(), SessionOptions::default())
}

fn fixture_with(name: &str, model: Model, opts: SessionOptions) -> (Session, Arc<Published>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    session_of(&dir, model, opts)
}

fn key(app: &mut App, p: &Arc<Published>, code: KeyCode) -> Action {
    let rows = ui::rows(app, &p.overview);
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE), Some(p), rows)
}

fn typed(app: &mut App, p: &Arc<Published>, s: &str) {
    for c in s.chars() {
        key(app, p, KeyCode::Char(c));
    }
}

#[test]
fn services_view_shows_the_verdict_and_the_broken_real_server() {
    let (_s, p) = fixture("dr-rs-no-vip");
    let app = App::new("fixtures/dr-rs-no-vip".into());
    let s = screen(&app, &p, 140, 30);
    let lines: Vec<&str> = s.lines().collect();
    assert!(lines[0].contains("DONE"), "{s}");
    assert!(
        lines[0].contains("7 points, 1162 packets, 24 connections"),
        "{s}"
    );
    // The headline: the worst finding, its real server, the first step of
    // its fix.
    assert!(
        lines[1].contains("✗ dr-rs-no-reply: 192.0.2.13 does not answer forwarded connections"),
        "verdict row: {}",
        lines[1]
    );
    assert_eq!(
        lines[2].trim_end(),
        "  fix: On 192.0.2.13: ip addr add 192.0.2.100/32 dev lo"
    );
    let svc = lines
        .iter()
        .find(|l| l.starts_with("192.0.2.100:80/tcp"))
        .expect("service row");
    assert!(
        svc.contains(" DR ") && svc.contains("24") && svc.contains("ERROR"),
        "{svc}"
    );
    let rs3 = lines
        .iter()
        .find(|l| l.contains("└ 192.0.2.13"))
        .expect("rs3 row");
    assert!(rs3.contains("ERROR does not answer"), "{rs3}");
    let rs1 = lines
        .iter()
        .find(|l| l.contains("└ 192.0.2.11"))
        .expect("rs1 row");
    assert!(rs1.trim_end().ends_with("OK"), "{rs1}");
    // Capture points with their packet counts.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("rs3-eth0") && l.contains(" 31 ") && l.contains("file")),
        "{s}"
    );
}

#[test]
fn healthy_fixture_says_healthy() {
    let (_s, p) = fixture("dr-healthy");
    let app = App::new("x".into());
    let s = screen(&app, &p, 120, 24);
    let head = s.lines().nth(1).unwrap();
    let conns = p.overview.analysis.flows.flows;
    assert!(
        head.contains(&format!(
            "✓ 1 service(s), 3 real server(s), {conns} connection(s): healthy"
        )),
        "{s}"
    );
    assert!(!s.contains("ERROR"), "{s}");
}

#[test]
fn finding_detail_has_cause_evidence_and_fix() {
    let (_s, p) = fixture("dr-rs-no-vip");
    let mut app = App::new("x".into());
    key(&mut app, &p, KeyCode::Char('2'));
    assert_eq!(app.view, View::Findings);
    let list = screen(&app, &p, 140, 30);
    let first = list.lines().nth(6).unwrap();
    assert!(
        first.contains("ERROR") && first.contains("dr-rs-no-reply") && first.contains("192.0.2.13"),
        "{list}"
    );
    assert!(
        list.contains("syn-retransmit"),
        "the explained symptom is listed: {list}"
    );
    key(&mut app, &p, KeyCode::Enter);
    assert!(app.pane().detail);
    let s = screen(&app, &p, 140, 40);
    assert!(
        s.contains("ERROR dr-rs-no-reply  192.0.2.100:80/tcp  192.0.2.13"),
        "{s}"
    );
    assert!(
        s.contains("Cause") && s.contains("most often the VIP is not"),
        "{s}"
    );
    assert!(
        s.contains("Evidence") && s.contains("director-eth0 frame "),
        "{s}"
    );
    assert!(
        s.contains("Fix") && s.contains("ip addr add 192.0.2.100/32 dev lo"),
        "{s}"
    );
    // e exports the evidence frames.
    match key(&mut app, &p, KeyCode::Char('e')) {
        Action::Export(Selector::Frames(f), path) => {
            assert!(!f.is_empty() && f.len() <= 8);
            assert!(path.ends_with("lvsdiag-dr-rs-no-reply-1.pcapng"));
        }
        other => panic!("expected an export, got {other:?}"),
    }
    key(&mut app, &p, KeyCode::Esc);
    assert!(!app.pane().detail);
}

#[test]
fn text_views_scroll_without_moving_the_selection() {
    let (_s, p) = fixture("dr-rs-no-vip");
    let mut app = App::new("x".into());
    key(&mut app, &p, KeyCode::Char('2'));
    key(&mut app, &p, KeyCode::Enter);
    let top = screen(&app, &p, 100, 12);
    assert!(top.contains("ERROR dr-rs-no-reply"), "{top}");
    key(&mut app, &p, KeyCode::Char('j'));
    key(&mut app, &p, KeyCode::Down);
    assert_eq!(app.pane().scroll, 2);
    assert_eq!(
        app.pane_of(View::Findings).selected,
        0,
        "the finding selection stays"
    );
    let scrolled = screen(&app, &p, 100, 12);
    assert!(!scrolled.contains("ERROR dr-rs-no-reply"), "{scrolled}");
    key(&mut app, &p, KeyCode::Char('k'));
    assert_eq!(app.pane().scroll, 1);
    key(&mut app, &p, KeyCode::Esc);
    assert!(!app.pane().detail);
    assert_eq!(app.pane().scroll, 0);
    // Config scrolls too, and a view switch starts at the top.
    key(&mut app, &p, KeyCode::Char('5'));
    key(&mut app, &p, KeyCode::PageDown);
    assert_eq!(app.pane().scroll, 10);
    key(&mut app, &p, KeyCode::Char('1'));
    assert_eq!(app.pane().scroll, 0);
}

#[test]
fn flow_ladder_marks_the_missing_syn_ack() {
    let (s, p) = fixture("dr-rs-no-vip");
    let mut app = App::new("x".into());
    key(&mut app, &p, KeyCode::Char('3'));
    let all = screen(&app, &p, 140, 40);
    assert!(
        all.contains("flows (24 kept; /failed, Enter: ladder, e: export pcapng), by newest"),
        "{all}"
    );
    // Filter to the failed flows: all of them went to rs3.
    key(&mut app, &p, KeyCode::Char('/'));
    typed(&mut app, &p, "failed");
    key(&mut app, &p, KeyCode::Enter);
    let list = screen(&app, &p, 140, 40);
    assert!(
        list.contains("flows (8 of 24) matching \"failed\", by newest"),
        "{list}"
    );
    let rows: Vec<&str> = list
        .lines()
        .filter(|l| l.contains("203.0.113.10:"))
        .collect();
    assert_eq!(rows.len(), 8, "{list}");
    assert!(
        rows.iter()
            .all(|r| r.contains("192.0.2.13") && r.contains("failed")),
        "{list}"
    );
    key(&mut app, &p, KeyCode::Down);
    key(&mut app, &p, KeyCode::Enter);
    let ladder = screen(&app, &p, 140, 40);
    assert!(
        ladder.contains("real server 192.0.2.13  failed"),
        "{ladder}"
    );
    assert!(ladder.contains("client-eth0    SYN client→VIP"), "{ladder}");
    assert!(
        ladder.contains("director-eth0  SYN forwarded")
            && ladder.contains("02:00:00:00:0d:00 → 02:00:00:00:13:00"),
        "{ladder}"
    );
    assert!(ladder.contains("rs3-eth0       SYN forwarded"), "{ladder}");
    assert!(
        ladder.contains("✗ missing  SYN-ACK") && ladder.contains("192.0.2.13 never answered"),
        "{ladder}"
    );
    assert!(
        !ladder
            .lines()
            .any(|l| l.contains(" ms ") && l.contains("SYN-ACK")),
        "no SYN-ACK leg: {ladder}"
    );
    // e exports this flow's packets from every point.
    let Action::Export(sel, _) = key(&mut app, &p, KeyCode::Char('e')) else {
        panic!("export expected")
    };
    let dir = std::env::temp_dir().join(format!("lvsdiag-tui-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("flow.pcapng");
    let n = s.export(sel, out.clone()).unwrap();
    // 3 SYNs at each of client, router×2, director×2 (in and forwarded), rs3.
    assert_eq!(n, 18);
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(
        &bytes[..4],
        &[0x0a, 0x0d, 0x0d, 0x0a],
        "pcapng section header"
    );
    // Our own reader reads it back: 18 packets.
    let back = lvsdiag::analyze::run_files(
        &[out.display().to_string()],
        Model::default(),
        Default::default(),
    )
    .unwrap();
    assert_eq!(back.packets, 18);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn healthy_flow_ladder_has_every_leg() {
    let (_s, p) = fixture("nat-healthy");
    let mut app = App::new("x".into());
    key(&mut app, &p, KeyCode::Char('3'));
    key(&mut app, &p, KeyCode::Enter);
    let s = screen(&app, &p, 150, 40);
    assert!(s.contains("NAT") && s.contains("established"), "{s}");
    assert!(
        s.contains("SYN forwarded") && s.contains("SYN-ACK") && s.contains("ACK client"),
        "{s}"
    );
    assert!(!s.contains("✗"), "nothing missing: {s}");
}

#[test]
fn arp_view_shows_the_real_server_answering_for_the_vip() {
    let (_s, p) = fixture("dr-arp-problem");
    let mut app = App::new("x".into());
    key(&mut app, &p, KeyCode::Char('4'));
    let s = screen(&app, &p, 150, 30);
    let rows: Vec<&str> = s.lines().filter(|l| l.starts_with("192.0.2.100")).collect();
    assert!(
        rows.iter()
            .any(|r| r.contains("02:00:00:00:0d:00") && r.contains("director")),
        "{s}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("02:00:00:00:12:00") && r.contains("REAL SERVER")),
        "{s}"
    );
}

#[test]
fn keys_switch_views_pause_help_and_quit() {
    let (_s, p) = fixture("dr-healthy");
    let mut app = App::new("x".into());
    key(&mut app, &p, KeyCode::Tab);
    assert_eq!(app.view, View::Findings);
    key(&mut app, &p, KeyCode::BackTab);
    key(&mut app, &p, KeyCode::BackTab);
    assert_eq!(app.view, View::Timeline);
    key(&mut app, &p, KeyCode::BackTab);
    assert_eq!(app.view, View::Config);
    key(&mut app, &p, KeyCode::Char('1'));
    assert_eq!(app.view, View::Services);
    key(&mut app, &p, KeyCode::Char('p'));
    assert!(app.paused());
    assert!(screen(&app, &p, 100, 20).contains("PAUSED"));
    key(&mut app, &p, KeyCode::Char('p'));
    assert!(!app.paused());
    key(&mut app, &p, KeyCode::Char('?'));
    assert!(screen(&app, &p, 100, 30).contains("help (any key closes)"));
    assert_eq!(key(&mut app, &p, KeyCode::Char('x')), Action::None);
    assert!(!app.help);
    // Help in every view: the same keys, each with what it does there.
    for (v, enter) in [
        ('1', "open the row's findings"),
        ('2', "the finding's cause, evidence and fix"),
        ('3', "the connection's ladder"),
        ('4', "nothing here"),
        ('5', "nothing here"),
        ('6', "unfold a run"),
    ] {
        key(&mut app, &p, KeyCode::Char(v));
        key(&mut app, &p, KeyCode::Char('?'));
        let h = screen(&app, &p, 100, 30);
        for k in [
            "Tab  Shift-Tab  1-6",
            "← →  h l",
            "Enter",
            "/ ",
            "q  Ctrl-C",
        ] {
            assert!(h.contains(k), "{v}: {k}\n{h}");
        }
        assert!(h.contains(enter), "{v}: {enter}\n{h}");
        key(&mut app, &p, KeyCode::Esc);
    }
    key(&mut app, &p, KeyCode::Char('5'));
    key(&mut app, &p, KeyCode::Char('s'));
    assert_eq!(app.status.as_deref(), Some("Config has one order"));
    key(&mut app, &p, KeyCode::Enter);
    assert_eq!(app.status.as_deref(), Some("Config has nothing to open"));
    key(&mut app, &p, KeyCode::Char('1'));
    // j/k stay within the list.
    key(&mut app, &p, KeyCode::Char('3'));
    for _ in 0..100 {
        key(&mut app, &p, KeyCode::Char('j'));
    }
    assert_eq!(
        app.pane_of(View::Flows).selected,
        p.overview.flows.len() - 1
    );
    key(&mut app, &p, KeyCode::Char('g'));
    assert_eq!(app.pane_of(View::Flows).selected, 0);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.on_key(ctrl_c, Some(&p), 0), Action::Quit);
    assert_eq!(key(&mut app, &p, KeyCode::Char('q')), Action::Quit);
}

#[test]
fn every_view_draws_at_any_size() {
    let (_s, p) = fixture("dr-arp-problem");
    let mut app = App::new("x".into());
    for v in ['1', '2', '3', '4', '5'] {
        key(&mut app, &p, KeyCode::Char(v));
        for (w, h) in [(200, 60), (80, 24), (40, 10), (10, 4), (1, 1)] {
            screen(&app, &p, w, h);
            if matches!(v, '2' | '3') {
                key(&mut app, &p, KeyCode::Enter);
                screen(&app, &p, w, h);
                key(&mut app, &p, KeyCode::Esc);
            }
        }
    }
    key(&mut app, &p, KeyCode::Char('?'));
    screen(&app, &p, 20, 6);
}

#[test]
fn live_drops_and_ended_streams_are_always_visible() {
    let (_s, p) = fixture("dr-healthy");
    let mut o = p.overview.clone();
    o.analysis.points[0].live = Some(LiveInfo {
        what: "eth0".into(),
        kernel_drops: 3,
        interface_drops: 1,
        lvsdiag_drops: 2,
        running: true,
    });
    o.analysis.points[1].live = Some(LiveInfo {
        what: "ssh rs1 tcpdump".into(),
        running: false,
        ..Default::default()
    });
    o.analysis.points[1].error = Some("rs1: the command's stream ended".into());
    let live = Arc::new(Published {
        overview: o,
        done: false,
        seq: 1,
        elapsed: Duration::from_secs(3),
        read: None,
    });
    let app = App::new("x".into());
    let s = screen(&app, &live, 160, 30);
    let title = s.lines().next().unwrap();
    assert!(
        title.contains("LIVE") && title.contains("drops 6"),
        "{title}"
    );
    assert!(
        title.contains("ended: ") && title.contains(&live.overview.analysis.points[1].name),
        "{title}"
    );
    assert!(s.contains("kernel 3 if 1 lvsdiag 2"), "{s}");
    assert!(s.contains("ended with error"), "{s}");
}

#[test]
fn config_view_and_detail_show_the_snapshot_cross_check() {
    let (_s, p) = common::tui::dr_rs_no_vip_with_snapshots();
    let mut app = App::new("x".into());
    key(&mut app, &p, KeyCode::Char('5'));
    let s = screen(&app, &p, 150, 40);
    assert!(s.contains("rs3: capture points rs3-eth0"), "{s}");
    assert!(s.contains("ERROR rs-vip-not-on-loopback"), "{s}");
    assert!(
        s.contains("rs3 snapshot: 192.0.2.100 is on no interface; lo has 127.0.0.1/8"),
        "{s}"
    );
    key(&mut app, &p, KeyCode::Char('2'));
    key(&mut app, &p, KeyCode::Enter);
    let d = screen(&app, &p, 150, 40);
    assert!(d.contains("dr-rs-no-reply"), "{d}");
    assert!(
        d.contains("Configuration (confirmed by rs-vip-not-on-loopback)"),
        "{d}"
    );
}

/// An ssh session at 3 a.m. is 80×24, sometimes less: the Services view
/// drops columns by importance (sched, resets, RTT first) and keeps the
/// real server, its failures and its verdict on every row.
#[test]
fn small_terminals_keep_the_verdict_of_every_real_server() {
    let (_s, p) = fixture("dr-rs-no-vip");
    let app = App::new("test".into());
    for (w, h) in [(80, 24), (60, 15)] {
        let out = screen(&app, &p, w, h);
        let lines: Vec<&str> = out.lines().collect();
        let head = lines
            .iter()
            .find(|l| l.contains("service / real server"))
            .expect("header");
        assert!(
            head.contains("failed") && head.contains("verdict"),
            "{w}x{h}:\n{out}"
        );
        for rs in ["192.0.2.11", "192.0.2.12"] {
            let row = lines
                .iter()
                .find(|l| l.contains(&format!("└ {rs}")))
                .expect(rs);
            assert!(row.contains("OK"), "{w}x{h}: {row}");
        }
        let broken = lines
            .iter()
            .find(|l| l.contains("└ 192.0.2.13"))
            .expect("rs3");
        assert!(
            broken.contains("ERROR") && broken.contains(" 8 "),
            "{w}x{h}: {broken}"
        );
    }
}

#[test]
fn enter_on_a_real_server_opens_its_findings_and_flows_each_view_keeping_its_filter() {
    let (_s, p) = fixture("dr-rs-no-vip");
    let mut app = App::new("x".into());
    // Services: the service row, then its real servers; rs3 (192.0.2.13) is broken.
    let rows = lvsdiag::tui::app::service_rows(&app, &p.overview.analysis);
    let rs3 = rows
        .iter()
        .position(|r| matches!(r, lvsdiag::tui::app::SvcRow::Server(s) if s.ip.is_some_and(|i| i.to_string() == "192.0.2.13")))
        .expect("rs3 listed");
    for _ in 0..rs3 {
        key(&mut app, &p, KeyCode::Down);
    }
    key(&mut app, &p, KeyCode::Enter);
    assert_eq!(app.view, View::Findings);
    assert_eq!(app.pane().filter, "192.0.2.100:80/tcp 192.0.2.13");
    let fs = app.findings(&p.overview);
    assert!(!fs.is_empty());
    assert!(
        fs.iter()
            .all(|f| f.rs_label().as_deref() == Some("192.0.2.13")),
        "only rs3's findings"
    );
    // Its flows one Tab away: all 8 failed ones, and only those.
    key(&mut app, &p, KeyCode::Tab);
    assert_eq!(app.view, View::Flows);
    assert_eq!(app.pane().filter, "192.0.2.100:80 192.0.2.13");
    let flows = app.flows(&p.overview);
    assert_eq!(flows.len(), 8);
    assert!(flows
        .iter()
        .all(|r| r.rs_label.as_deref() == Some("192.0.2.13")));
    // Esc keeps a filter (it says how to clear it); / then Esc clears it.
    key(&mut app, &p, KeyCode::Esc);
    assert_eq!(app.pane().filter, "192.0.2.100:80 192.0.2.13");
    assert!(app
        .status
        .as_deref()
        .is_some_and(|s| s.contains("/ then Esc")));
    key(&mut app, &p, KeyCode::Char('/'));
    key(&mut app, &p, KeyCode::Esc);
    assert_eq!(app.flows(&p.overview).len(), 24);
    // The Findings view kept its own filter.
    assert_eq!(
        app.pane_of(View::Findings).filter,
        "192.0.2.100:80/tcp 192.0.2.13"
    );
    // s sorts: by client, ascending.
    key(&mut app, &p, KeyCode::Char('s'));
    key(&mut app, &p, KeyCode::Char('s'));
    assert_eq!(app.pane().sort_name(), Some("client"));
    let by_client: Vec<_> = app
        .flows(&p.overview)
        .iter()
        .map(|r| (r.client, r.cport))
        .collect();
    let mut sorted = by_client.clone();
    sorted.sort();
    assert_eq!(by_client, sorted);
    let s = screen(&app, &p, 120, 24);
    assert!(s.contains(", by client"), "{s}");
}

/// The Timeline view: each real server's new connections over time and the
/// events; Enter on an event opens the Flows view on its real server, at
/// the flow nearest the event.
#[test]
fn timeline_shows_the_removed_real_server_and_enter_opens_its_flows() {
    let (_s, p) = fixture("dr-rs-removed");
    let mut app = App::new("x".into());
    key(&mut app, &p, KeyCode::Char('6'));
    assert_eq!(app.view, View::Timeline);
    let s = screen(&app, &p, 100, 30);
    for want in [
        "192.0.2.11 :9000",
        "192.0.2.13 :9000",
        "rs-vanishes",
        "192.0.2.13 gets its last new connection",
        "rs-removed-blackholes-established",
    ] {
        assert!(s.contains(want), "{want}:\n{s}");
    }
    // Select the vanishing event and open it.
    let events = app.events(&p.overview);
    let i = events
        .iter()
        .position(|e| e.event().kind == lvsdiag::timeline::EventKind::RsVanishes)
        .expect("a vanishing event");
    for _ in 0..i {
        key(&mut app, &p, KeyCode::Down);
    }
    key(&mut app, &p, KeyCode::Enter);
    assert_eq!(app.view, View::Flows);
    assert_eq!(app.pane_of(View::Flows).filter, "192.0.2.13");
    let rows = app.flows(&p.overview);
    assert!(
        !rows.is_empty()
            && rows
                .iter()
                .all(|r| r.rs_label.as_deref() == Some("192.0.2.13"))
    );
    let sel = &rows[app.pane_of(View::Flows).selected];
    let t = events[i].event().time;
    assert!(
        rows.iter()
            .all(|r| (r.first_ts - t).abs() >= (sel.first_ts - t).abs()),
        "the flow nearest the event is selected"
    );
}

/// The flow ladder goes on after the handshake: each leg folded into one
/// line with its counts, the silence and the director's reset.
#[test]
fn flow_ladder_shows_the_life_after_the_handshake() {
    let (_s, p) = fixture("dr-idle-timeout");
    let mut app = App::new("x".into());
    key(&mut app, &p, KeyCode::Char('3'));
    key(&mut app, &p, KeyCode::Enter);
    let s = screen(&app, &p, 160, 60);
    for want in [
        "after the handshake",
        "s without a packet (folded), then the client",
        "RST to the client from 192.0.2.100 (the VIP) via 02:00:00:00:0d:00",
        "client → 192.0.2.100, 02:00:00:00:01:01 → 02:00:00:00:0d:00",
    ] {
        assert!(s.contains(want), "{want}:\n{s}");
    }
}

/// Files being read are labelled READING with how far the readers are,
/// never LIVE, and never 100% before the end.
#[test]
fn reading_files_shows_how_far() {
    let (_s, done) = fixture("dr-healthy");
    let (r, t) = done.read.expect("files: bytes read");
    assert!(r > 0 && r <= t, "{r} of {t}");
    let base = done.overview.clone();
    for ((r, t), want) in [((50, 200), "READING 25%"), ((200, 200), "READING 99%")] {
        let p = Arc::new(Published {
            overview: base.clone(),
            done: false,
            seq: 1,
            elapsed: Duration::from_secs(1),
            read: Some((r, t)),
        });
        let s = screen(&App::new("x".into()), &p, 120, 30);
        let title = s.lines().next().unwrap();
        assert!(title.contains(want) && !title.contains("LIVE"), "{title}");
    }
}

/// The ARP view is ARP/VRRP: below who claims each VIP, each virtual
/// router with its routers and masters over time; the Config view shows
/// keepalived's model beside the IPVS table.
#[test]
fn arp_vrrp_view_shows_both_masters_and_config_shows_keepalived() {
    let (_s, p) = common::tui::split_brain_with_keepalived();
    let mut app = App::new("x".into());
    key(&mut app, &p, KeyCode::Char('4'));
    let s = screen(&app, &p, 160, 40);
    assert!(s.contains("ARP/VRRP"), "{s}");
    assert!(s.contains("VRID 51: master"), "{s}");
    assert!(s.contains("192.0.2.2 ") && s.contains("192.0.2.3 "), "{s}");
    assert!(s.contains("prio 150") && s.contains("prio 100"), "{s}");
    key(&mut app, &p, KeyCode::Char('5'));
    let s = screen(&app, &p, 160, 40);
    assert!(
        s.contains("vrrp_instance VI_1 VRID 51 priority 150 MASTER on eth0"),
        "{s}"
    );
}

/// A session over `lvsdiag generate dr N`.
fn generated_dr(n: u64) -> (Session, Arc<Published>) {
    let path = std::env::temp_dir().join(format!("lvsdiag-tui-dr-{}.pcap", std::process::id()));
    lvsdiag::generate::dr(&path, n).unwrap();
    let out = session_of(&path, Model::default(), SessionOptions::default());
    std::fs::remove_file(path).ok();
    out
}

/// At 20k connections, healthy traffic no longer pushes the failed ones out
/// of the Flows view: every failed one is kept (the healthy ones only as
/// the newest 2000), and `/failed` lists them all.
#[test]
fn every_failed_connection_stays_in_view_beside_the_newest_healthy_ones() {
    let (_s, p) = generated_dr(20_000);
    let o = &p.overview;
    let failed: u64 = o.analysis.services.iter().map(|s| s.stats.failed).sum();
    assert!(failed > 500, "the generated segment has failures: {failed}");
    let notable = o.flows.iter().filter(|r| r.notable).count() as u64;
    assert_eq!(notable, failed, "every failed connection is kept");
    assert_eq!(
        o.flows.len() as u64,
        failed + 2000,
        "and the newest 2000 healthy"
    );
    assert_eq!(o.flows_not_kept, 0);
    let mut app = App::new("x".into());
    key(&mut app, &p, KeyCode::Char('3'));
    key(&mut app, &p, KeyCode::Char('/'));
    typed(&mut app, &p, "failed");
    key(&mut app, &p, KeyCode::Enter);
    assert_eq!(app.flows(o).len() as u64, failed);
    let s = screen(&app, &p, 120, 30);
    assert!(
        s.contains(&format!("flows ({failed} of {})", o.flows.len())),
        "{s}"
    );
    // The last of them can be selected and drawn (only the rows on screen
    // are made).
    key(&mut app, &p, KeyCode::End);
    let s = screen(&app, &p, 120, 30);
    let oldest = app
        .flows(o)
        .last()
        .map(|r| format!("{}:{}", r.client, r.cport));
    assert!(s.contains(&oldest.unwrap()), "{s}");
}

/// Beyond the cap (see flow::kept's tests) the view says how many older
/// failed connections are not kept.
#[test]
fn failed_connections_beyond_the_cap_are_counted() {
    let (_s, p) = fixture("dr-rs-no-vip");
    let mut o = p.overview.clone();
    o.flows_not_kept = 3000;
    o.id = lvsdiag::analysis::next_overview_id();
    let p = Arc::new(Published {
        overview: o,
        done: true,
        seq: p.seq + 1,
        elapsed: p.elapsed,
        read: None,
    });
    let mut app = App::new("x".into());
    key(&mut app, &p, KeyCode::Char('3'));
    let s = screen(&app, &p, 120, 30);
    assert!(
        s.contains("flows (24 kept; 3000 older failed not kept"),
        "{s}"
    );
}
