//! lvsdiag's command line: thin; the commands live in `cli/`, the work in
//! the library.

mod cli;

use clap::Parser;
use cli::*;
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Some(code) = unknown_command() {
        return ExitCode::from(code);
    }
    let cli = Cli::parse();
    let code = match cli.cmd {
        Some(Cmd::Analyze(a)) => run_analyze(a),
        Some(Cmd::Tui(t)) => run_tui(t),
        Some(Cmd::Watch(w)) => run_watch(w),
        Some(Cmd::Capture(c)) => run_capture(c),
        Some(Cmd::Snapshot(a)) => run_snapshot(a),
        Some(Cmd::Check(a)) => run_check(a),
        Some(Cmd::Model(a)) => run_model(a),
        Some(Cmd::Completions { shell }) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "lvsdiag", &mut std::io::stdout());
            0
        }
        Some(Cmd::Man) => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
                Ok(()) => 0,
                Err(e) => fail(&format!("cannot write the man page: {e}")),
            }
        }
        None => {
            if cli.tui.src.inputs.is_empty()
                && cli.tui.src.read.is_empty()
                && !cli.tui.src.is_live()
            {
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
                "dr-open" => lvsdiag::generate::dr_open(&out, count),
                "syn-flood" => lvsdiag::generate::syn_flood(&out, count),
                "udp-flood" => lvsdiag::generate::udp_flood(&out, count),
                "long-lived" => lvsdiag::generate::long_lived(&out, count),
                "rst-storm" => lvsdiag::generate::rst_storm(&out, count),
                "arp-storm" => lvsdiag::generate::arp_storm(&out, count),
                other => Err(format!(
                    "unknown kind {other}: dr, dr-healthy, dr-open, syn-flood, udp-flood, long-lived, rst-storm or arp-storm"
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

/// `lvsdiag analyse x.pcap`: a first word that is no command, no option and
/// no existing path, but close to a command, is a typo, not a capture file.
fn unknown_command() -> Option<u8> {
    let first = std::env::args_os().nth(1)?.into_string().ok()?;
    if first.starts_with('-') || first.contains('=') || std::path::Path::new(&first).exists() {
        return None;
    }
    let names: Vec<String> = <Cli as clap::CommandFactory>::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .collect();
    if names.contains(&first) {
        return None;
    }
    let near = names
        .iter()
        .map(|n| (distance(&first, n), n))
        .filter(|(d, _)| *d <= 2)
        .min()?;
    Some(fail(&format!(
        "'{}' is not a command (did you mean '{}'?) nor a capture file; see lvsdiag --help",
        lvsdiag::text::sanitize(&first),
        near.1
    )))
}

/// Edit distance (Levenshtein) between two short words.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
