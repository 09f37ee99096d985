//! The TUI at scale: an engine holding 10k and 100k live connections (one
//! in twenty failed), published and drawn through ratatui's `TestBackend`.
//! The findings are repeated until they carry 10k evidence entries.
//! Measures what the engine thread pays to publish (the overview reads the
//! live flows in place), what a frame costs in every view (the first after
//! a publication, which filters and sorts the kept flows, and the next
//! ones), and key presses answered and redrawn.
//!
//! Then the Findings view at 100, 1,000 and 10,000 findings.
//!
//! `cargo bench --bench tui` (prints Markdown tables; `-- --flows N` for
//! one size only).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lvsdiag::engine::{Engine, Options};
use lvsdiag::model::Model;
use lvsdiag::session::Published;
use lvsdiag::source::PointInfo;
use lvsdiag::tui::app::{App, View};
use lvsdiag::tui::ui;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

const W: u16 = 160;
const H: u16 = 48;

fn engine(connections: u64) -> (Engine, u64) {
    let path = std::env::temp_dir().join(format!("lvsdiag-bench-tui-{}.pcap", std::process::id()));
    lvsdiag::generate::dr_open(&path, connections).expect("generate");
    let opts = Options {
        keep_flows: 2000,
        max_flows: 2 * connections as usize,
        ..Options::default()
    };
    let mut e = Engine::new(Model::default(), opts);
    let n = lvsdiag::generate::feed(&mut e, &path).expect("read back");
    std::fs::remove_file(&path).ok();
    (e, n)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn draw(t: &mut Terminal<TestBackend>, app: &App, p: &Arc<Published>) -> Duration {
    let s = Instant::now();
    t.draw(|f| ui::draw(f, app, Some(p))).expect("draw");
    s.elapsed()
}

fn press(
    t: &mut Terminal<TestBackend>,
    app: &mut App,
    p: &Arc<Published>,
    code: KeyCode,
) -> Duration {
    let s = Instant::now();
    let rows = ui::rows(app, &p.overview);
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE), Some(p), rows);
    t.draw(|f| ui::draw(f, app, Some(p))).expect("draw");
    s.elapsed()
}

fn run(connections: u64) {
    let (e, packets) = engine(connections);
    // Publishing: what the engine thread pays each time.
    let mut publish = Vec::new();
    let mut ov = None;
    for _ in 0..5 {
        let s = Instant::now();
        ov = Some(e.overview(vec![PointInfo::ethernet("dr", packets)]));
        publish.push(s.elapsed());
    }
    let mut ov = ov.expect("published");
    // The Findings view at scale: the findings repeated until they carry
    // 10k evidence entries (a capture with a thousand broken services).
    let base = ov.analysis.findings.clone();
    while !base.is_empty()
        && ov
            .analysis
            .findings
            .iter()
            .map(|f| f.evidence.len())
            .sum::<usize>()
            < 10_000
    {
        ov.analysis.findings.extend(base.iter().cloned());
    }
    let evidence: usize = ov.analysis.findings.iter().map(|f| f.evidence.len()).sum();
    let kept = ov.flows.len();
    let failed = ov.flows.iter().filter(|r| r.notable).count();
    let p = Arc::new(Published {
        overview: ov,
        done: false,
        seq: 1,
        elapsed: Duration::ZERO,
        read: None,
    });
    let mut t = Terminal::new(TestBackend::new(W, H)).expect("terminal");
    let mut app = App::new("bench".into());
    println!(
        "| {} live connections ({} packets; {} kept for the Flows view, {} of them failed; {} findings, {} evidence entries) | publish {} ms |",
        connections,
        packets,
        kept,
        failed,
        p.overview.analysis.findings.len(),
        evidence,
        ms(median(publish))
    );
    let mut worst = Duration::ZERO;
    for (i, v) in View::ALL.iter().enumerate() {
        let key = KeyCode::Char(char::from(b'1' + i as u8));
        let first = press(&mut t, &mut app, &p, key);
        let next = median((0..30).map(|_| draw(&mut t, &app, &p)).collect());
        worst = worst.max(first).max(next);
        println!(
            "| frame, {} view | first {} ms | next {} ms |",
            v.title(),
            ms(first),
            ms(next)
        );
    }
    // Keys in the Flows view: a new overview, the filter, scrolling, the ladder.
    press(&mut t, &mut app, &p, KeyCode::Char('3'));
    let again = Arc::new(Published {
        overview: lvsdiag::engine::Overview {
            id: lvsdiag::analysis::next_overview_id(),
            ..p.overview.clone()
        },
        done: false,
        seq: 2,
        elapsed: Duration::ZERO,
        read: None,
    });
    let fresh = draw(&mut t, &app, &again);
    println!(
        "| Flows view, first frame of a new publication | {} ms | |",
        ms(fresh)
    );
    press(&mut t, &mut app, &again, KeyCode::Char('/'));
    let mut typing = Vec::new();
    for c in "failed".chars() {
        typing.push(press(&mut t, &mut app, &again, KeyCode::Char(c)));
    }
    let enter = press(&mut t, &mut app, &again, KeyCode::Enter);
    let down = median(
        (0..30)
            .map(|_| press(&mut t, &mut app, &again, KeyCode::Down))
            .collect(),
    );
    let end = press(&mut t, &mut app, &again, KeyCode::End);
    let ladder = press(&mut t, &mut app, &again, KeyCode::Enter);
    let sort = press(&mut t, &mut app, &again, KeyCode::Esc);
    let sort = sort + press(&mut t, &mut app, &again, KeyCode::Char('s'));
    let worst_key = *[
        typing.iter().max().copied().unwrap_or_default(),
        enter,
        down,
        end,
        ladder,
        sort,
    ]
    .iter()
    .max()
    .expect("keys");
    println!(
        "| keys, Flows view: typing /failed (worst) {} ms, Enter {} ms, Down {} ms, End {} ms, ladder {} ms, Esc+sort {} ms | worst {} ms |",
        ms(typing.into_iter().max().unwrap_or_default()),
        ms(enter),
        ms(down),
        ms(end),
        ms(ladder),
        ms(sort),
        ms(worst_key)
    );
    println!(
        "| worst frame | {} ms | |",
        ms(worst.max(fresh).max(worst_key))
    );
}

/// The Findings view with 100, 1,000 and 10,000 findings: a frame costs
/// the rows on screen (flat); the list is filtered and sorted once per
/// publication (the first frame).
fn findings_scale() {
    let (e, packets) = engine(10_000);
    let ov = e.overview(vec![PointInfo::ethernet("dr", packets)]);
    let base = ov.analysis.findings.clone();
    assert!(!base.is_empty(), "the generated capture has findings");
    println!();
    println!("| Findings view | first frame of a publication | next frames (median of 30) | Down (median of 30) |");
    println!("|---|---|---|---|");
    for n in [100usize, 1_000, 10_000] {
        let mut o = ov.clone();
        o.analysis.findings = base.iter().cycle().take(n).cloned().collect();
        o.id = lvsdiag::analysis::next_overview_id();
        let p = Arc::new(Published {
            overview: o,
            done: true,
            seq: 1,
            elapsed: Duration::ZERO,
            read: None,
        });
        let mut t = Terminal::new(TestBackend::new(W, H)).expect("terminal");
        let mut app = App::new("bench".into());
        let first = press(&mut t, &mut app, &p, KeyCode::Char('2'));
        let next = median((0..30).map(|_| draw(&mut t, &app, &p)).collect());
        let down = median(
            (0..30)
                .map(|_| press(&mut t, &mut app, &p, KeyCode::Down))
                .collect(),
        );
        println!(
            "| {n} findings | {} ms | {} ms | {} ms |",
            ms(first),
            ms(next),
            ms(down)
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sizes: Vec<u64> = match args.iter().position(|a| a == "--flows") {
        Some(i) => vec![args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .expect("--flows N")],
        None => vec![10_000, 100_000],
    };
    println!("TUI through TestBackend {W}x{H}, release build");
    println!();
    println!("| what | time | |");
    println!("|---|---|---|");
    for n in sizes {
        run(n);
    }
    findings_scale();
}
