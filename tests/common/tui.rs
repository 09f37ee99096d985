//! Running the TUI over fixtures: a session read to its end, and a screen
//! drawn through ratatui's TestBackend as text.

use lvsdiag::model::Model;
use lvsdiag::session::{Published, Session, SessionOptions};
use lvsdiag::source::file::expand_inputs;
use lvsdiag::source::live::Spec;
use lvsdiag::tui::app::App;
use lvsdiag::tui::ui;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A session over a capture file or a directory of them, run to its end.
pub fn session_of(input: &Path, model: Model, opts: SessionOptions) -> (Session, Arc<Published>) {
    let specs = expand_inputs(&[input.display().to_string()])
        .unwrap()
        .into_iter()
        .map(|(name, path)| Spec::File { name, path })
        .collect();
    let s = Session::start(specs, model, opts).unwrap();
    let p = s.wait_done(Duration::from_millis(10)).unwrap();
    assert!(p.done);
    (s, p)
}

/// The screen at `w`×`h`, a line per row, trailing blanks trimmed.
pub fn screen(app: &App, p: &Arc<Published>, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::draw(f, app, Some(p))).unwrap();
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// dr-rs-no-vip with its hosts' snapshots (so Config has the cross-check).
pub fn dr_rs_no_vip_with_snapshots() -> (Session, Arc<Published>) {
    let dir = super::fixture("dr-rs-no-vip").join("snapshot");
    let snapshots = lvsdiag::system::load(&[dir.display().to_string()]).unwrap();
    let mut model = Model::default();
    for s in lvsdiag::system::to_model(&snapshots).services {
        model.add(s);
    }
    let opts = SessionOptions {
        snapshots,
        ..SessionOptions::default()
    };
    session_of(&super::fixture("dr-rs-no-vip"), model, opts)
}

/// vrrp-split-brain with the first director's keepalived.conf.
pub fn split_brain_with_keepalived() -> (Session, Arc<Published>) {
    let dir = super::fixture("vrrp-split-brain");
    let mut model = Model::default();
    lvsdiag::analyze::add_keepalived(
        &mut model,
        // Relative (tests run in the package's directory), so that the
        // Config view's screen is the same in any clone.
        &["fixtures/vrrp-split-brain/keepalived-director.conf".to_string()],
        None,
    )
    .unwrap();
    session_of(&dir, model, SessionOptions::default())
}
