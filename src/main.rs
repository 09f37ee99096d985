//! lvsdiag's command line: thin; the commands live in `cli/`, the work in
//! the library.

mod cli;

use clap::Parser;
use cli::*;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.cmd {
        Some(Cmd::Analyze(a)) => run_analyze(a),
        Some(Cmd::Tui(t)) => run_tui(t),
        Some(Cmd::Capture(c)) => run_capture(c),
        Some(Cmd::Snapshot(a)) => run_snapshot(a),
        Some(Cmd::Check(a)) => run_check(a),
        None => {
            if cli.tui.src.inputs.is_empty() && !cli.tui.src.is_live() {
                let _ = <Cli as clap::CommandFactory>::command().print_help();
                2
            } else {
                run_tui(cli.tui)
            }
        }
        Some(Cmd::Generate { kind, count, out }) => {
            let r = match kind.as_str() {
                "dr" => lvsdiag::generate::dr(&out, count),
                "dr-healthy" => lvsdiag::generate::dr_healthy(&out, count),
                "syn-flood" => lvsdiag::generate::syn_flood(&out, count),
                "arp-storm" => lvsdiag::generate::arp_storm(&out, count),
                other => Err(format!(
                    "unknown kind {other}: dr, dr-healthy, syn-flood or arp-storm"
                )),
            };
            match r {
                Ok(n) => {
                    eprintln!("lvsdiag: wrote {n} packets to {}", out.display());
                    0
                }
                Err(e) => fail(&e),
            }
        }
    };
    ExitCode::from(code)
}
