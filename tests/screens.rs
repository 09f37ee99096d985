//! Every view of the TUI at the three sizes an operator has: an ssh session
//! (80×24), a laptop pane (100×30) and a wide monitor (200×50), held as
//! reviewed snapshot files (`tests/snapshots/`, the `insta` crate; a change
//! shows in the diff: `cargo insta review`, or `INSTA_UPDATE=always cargo
//! test --test screens` and read `git diff`).
//!
//! Besides the pictures, what must hold at every size is asserted here:
//! every column header whole, and the headline's worst finding and fix.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lvsdiag::session::Published;
use lvsdiag::tui::app::App;
use lvsdiag::tui::ui;
use std::sync::Arc;

mod common;
use common::tui::{dr_rs_no_vip_with_snapshots, screen, split_brain_with_keepalived};

const SIZES: [(u16, u16); 3] = [(80, 24), (100, 30), (200, 50)];

fn key(app: &mut App, p: &Arc<Published>, code: KeyCode) {
    let rows = ui::rows(app, &p.overview);
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE), Some(p), rows);
}

/// A screen at every size, each a snapshot, with the headers that must be
/// whole at every size.
fn at_every_size(name: &str, app: &App, p: &Arc<Published>, headers: &[&str]) {
    for (w, h) in SIZES {
        let s = screen(app, p, w, h);
        for head in headers {
            assert!(
                s.lines().any(|l| l.contains(head)),
                "{name} at {w}x{h}: header {head:?} not whole:\n{s}"
            );
        }
        insta::assert_snapshot!(format!("{name}-{w}x{h}"), s);
    }
}

#[test]
fn every_view_of_a_real_server_without_the_vip() {
    let (_s, p) = dr_rs_no_vip_with_snapshots();
    let mut app = App::new("fixtures/dr-rs-no-vip".into());
    for (w, h) in SIZES {
        let s = screen(&app, &p, w, h);
        let lines: Vec<&str> = s.lines().collect();
        assert!(
            lines[1]
                .starts_with("✗ dr-rs-no-reply: 192.0.2.13 does not answer forwarded connections"),
            "{w}x{h}: {}",
            lines[1]
        );
        assert!(
            lines[2].starts_with("  fix: On rs3: ip addr add 192.0.2.100/32 dev lo"),
            "{w}x{h}: {}",
            lines[2]
        );
    }
    at_every_size(
        "services",
        &app,
        &p,
        &[
            "service / real server",
            "failed",
            "verdict",
            "capture point",
        ],
    );
    key(&mut app, &p, KeyCode::Char('2'));
    at_every_size(
        "findings",
        &app,
        &p,
        &["sev", "code", "real server", "summary"],
    );
    key(&mut app, &p, KeyCode::Enter);
    at_every_size("finding-detail", &app, &p, &["Cause"]);
    key(&mut app, &p, KeyCode::Esc);
    key(&mut app, &p, KeyCode::Char('3'));
    at_every_size("flows", &app, &p, &["client", "VIP", "state"]);
    // The first failed connection's ladder.
    key(&mut app, &p, KeyCode::Char('/'));
    for c in "failed".chars() {
        key(&mut app, &p, KeyCode::Char(c));
    }
    key(&mut app, &p, KeyCode::Enter);
    key(&mut app, &p, KeyCode::Enter);
    at_every_size("flow-ladder", &app, &p, &[]);
    key(&mut app, &p, KeyCode::Esc);
    key(&mut app, &p, KeyCode::Char('4'));
    at_every_size("arp", &app, &p, &["VIP", "answered by MAC", "role"]);
    key(&mut app, &p, KeyCode::Char('5'));
    at_every_size("config", &app, &p, &[]);
    key(&mut app, &p, KeyCode::Char('6'));
    at_every_size("timeline", &app, &p, &["time (UTC)", "event", "what"]);
    key(&mut app, &p, KeyCode::Char('?'));
    at_every_size("help-timeline", &app, &p, &["← →  h l"]);
}

#[test]
fn every_view_of_a_split_brain_with_keepalived() {
    let (_s, p) = split_brain_with_keepalived();
    let mut app = App::new("fixtures/vrrp-split-brain".into());
    at_every_size("split-brain-services", &app, &p, &[]);
    key(&mut app, &p, KeyCode::Char('4'));
    at_every_size(
        "split-brain-arp",
        &app,
        &p,
        &["VIP", "answered by MAC", "role"],
    );
    // The master history runs off the screen: → scrolls it.
    key(&mut app, &p, KeyCode::Right);
    at_every_size("split-brain-arp-scrolled", &app, &p, &[]);
    key(&mut app, &p, KeyCode::Left);
    key(&mut app, &p, KeyCode::Char('5'));
    at_every_size("split-brain-config", &app, &p, &[]);
    key(&mut app, &p, KeyCode::Char('6'));
    at_every_size("split-brain-timeline", &app, &p, &["time (UTC)", "event"]);
    let s = screen(&app, &p, 200, 50);
    let run: Vec<&str> = s.lines().filter(|l| l.contains("VRRP VRID 51")).collect();
    assert_eq!(run.len(), 1, "one line for the run:\n{s}");
    assert!(
        run[0].contains("VRRP VRID 51: 192.0.2.3 ⇄ 192.0.2.2, 24 master changes")
            && run[0].contains("(vrrp-split-brain)"),
        "{s}"
    );
    // Enter unfolds the run of master changes, and folds it again.
    key(&mut app, &p, KeyCode::Enter);
    let s = screen(&app, &p, 200, 50);
    assert_eq!(s.matches("└ VRRP VRID 51").count(), 24, "{s}");
    at_every_size("split-brain-timeline-unfolded", &app, &p, &[]);
    key(&mut app, &p, KeyCode::Enter);
    let s = screen(&app, &p, 200, 50);
    assert!(!s.contains("└ VRRP"), "folded again:\n{s}");
    key(&mut app, &p, KeyCode::Char('?'));
    at_every_size("split-brain-help", &app, &p, &[]);
}
