//! The JUnit XML report (`--format junit`), for the test reporters of GitLab,
//! Jenkins and GitHub: one test suite per service, one test case for the
//! service and one per real server, a `<failure>` for each finding at or
//! above `--fail-on` and the others as `<system-out>`. Findings about no
//! service go to a suite of their own.

use super::sanitize;
use crate::engine::Analysis;
use crate::finding::{Finding, Severity};
use std::fmt::Write;

/// Escapes text for XML (control characters are already made visible by
/// `sanitize`, which XML 1.0 needs: it forbids most of them).
fn esc(s: &str) -> String {
    s.split('\n')
        .map(sanitize)
        .collect::<Vec<_>>()
        .join("\n")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

struct Case<'a> {
    name: String,
    findings: Vec<&'a Finding>,
}

pub fn render(a: &Analysis, fail_on: Option<Severity>) -> String {
    let fails = |f: &Finding| fail_on.is_some_and(|l| f.severity >= l);
    // (suite name, cases)
    let mut suites: Vec<(String, Vec<Case<'_>>)> = Vec::new();
    for s in &a.services {
        let key = s.service.key;
        let label = key.to_string();
        let mode = s
            .service
            .mode
            .map_or("mode?".to_string(), |m| m.to_string());
        let mut cases = vec![Case {
            name: format!("service {label} ({})", s.verdict.as_str()),
            findings: a
                .findings
                .iter()
                .filter(|f| f.service == Some(key) && f.real_server.is_none())
                .collect(),
        }];
        for r in a.real_servers.iter().filter(|r| r.service == key) {
            let id = r.id();
            let who = id.map_or_else(|| "?".into(), |i| i.to_string());
            cases.push(Case {
                name: format!("real server {who}"),
                findings: a
                    .findings
                    .iter()
                    .filter(|f| f.service == Some(key) && id.is_some() && f.real_server == id)
                    .collect(),
            });
        }
        // A finding on a real server the report does not list.
        let listed = |f: &&Finding| {
            cases
                .iter()
                .any(|c| c.findings.iter().any(|g| std::ptr::eq(*g, *f)))
        };
        let stray: Vec<&Finding> = a
            .findings
            .iter()
            .filter(|f| f.service == Some(key))
            .filter(|f| !listed(f))
            .collect();
        for f in stray {
            cases.push(Case {
                name: format!("real server {}", f.rs_label().unwrap_or_else(|| "?".into())),
                findings: vec![f],
            });
        }
        suites.push((format!("{mode} {label}"), cases));
    }
    let other: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| !a.services.iter().any(|s| f.service == Some(s.service.key)))
        .collect();
    if !other.is_empty() {
        suites.push((
            "other findings".into(),
            other
                .into_iter()
                .map(|f| Case {
                    name: format!("{} {}", f.code, f.rs_label().unwrap_or_default())
                        .trim_end()
                        .to_string(),
                    findings: vec![f],
                })
                .collect(),
        ));
    }
    let total: usize = suites.iter().map(|(_, c)| c.len()).sum();
    let failed = |c: &Case<'_>| c.findings.iter().any(|f| fails(f));
    let total_failed: usize = suites
        .iter()
        .map(|(_, c)| c.iter().filter(|c| failed(c)).count())
        .sum();
    let mut o = String::new();
    let _ = writeln!(o, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        o,
        r#"<testsuites name="lvsdiag" tests="{total}" failures="{total_failed}" errors="0">"#
    );
    for (name, cases) in &suites {
        let f = cases.iter().filter(|c| failed(c)).count();
        let _ = writeln!(
            o,
            r#"  <testsuite name="{}" tests="{}" failures="{f}" errors="0" skipped="0" time="0">"#,
            esc(name),
            cases.len()
        );
        for c in cases {
            let _ = write!(
                o,
                r#"    <testcase classname="lvsdiag.{}" name="{}" time="0""#,
                esc(name),
                esc(&c.name)
            );
            if c.findings.is_empty() {
                let _ = writeln!(o, "/>");
                continue;
            }
            let _ = writeln!(o, ">");
            let mut out = String::new();
            for f in &c.findings {
                let body = format!(
                    "{} {}: {}\ncause: {}\nfix: {}{}",
                    f.severity,
                    f.code,
                    f.summary,
                    f.cause,
                    f.fix,
                    f.losses
                        .as_deref()
                        .map_or(String::new(), |l| format!("\ndrops: {l}"))
                );
                if fails(f) {
                    let _ = writeln!(
                        o,
                        r#"      <failure type="{}" message="{}">{}</failure>"#,
                        esc(f.code),
                        esc(&format!("{} {}: {}", f.severity, f.code, f.summary)),
                        esc(&body)
                    );
                } else {
                    out.push_str(&body);
                    out.push('\n');
                }
            }
            if !out.is_empty() {
                let _ = writeln!(o, "      <system-out>{}</system-out>", esc(&out));
            }
            let _ = writeln!(o, "    </testcase>");
        }
        let _ = writeln!(o, "  </testsuite>");
    }
    let _ = writeln!(o, "</testsuites>");
    o
}
