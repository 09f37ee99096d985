//! `ipvs-idle-timeout`: an established connection fell silent longer than
//! the director's IPVS TCP timeout, and its next packet found no entry: the
//! director's own stack (it holds the VIP) reset it, or the director dropped
//! it instead of forwarding it.
//!
//! Proves the fault (essential evidence):
//! - an established TCP connection's longest silence (at least 1 s) and,
//!   after it, a RST from the VIP sent by the MAC of the director that had
//!   forwarded the connection (`is_flow_director`), or, no reset at all, the
//!   client's segments reaching the director after the silence while it
//!   forwarded none of them (both director legs seen);
//! - with a known TCP timeout (snapshot, `--ipvs-timeout`, `--ipvs` file):
//!   the silence reached it (1 s of timer slack); without one, only the
//!   director's own reset counts;
//! - the reset counts whoever spoke first after the silence; "not
//!   forwarded" needs the client to have spoken first and no server packet
//!   after it; the director's MAC is known in DR, NAT and TUN; the timeout
//!   is the first director snapshot's (see AUDIT.md, 15).
//!
//! Makes it more certain (supporting, not required):
//! - the known timeout as config evidence; a silence past the 900 s default
//!   when none is known (else the finding says it must have been lowered);
//! - several connections dying the same way; resets rather than drops
//!   (drops make it an absence finding, weighed against capture losses).

use super::lifecycle::{self, fmt_duration, DEFAULT_TCP_TIMEOUT, MAX_KEPT};
use super::{Check, Context};
use crate::finding::{Evidence, Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::FlowView;
use crate::model::{Proto, Vaddr};

#[derive(Clone, Copy)]
struct Died {
    vaddr: Vaddr,
    idle_ns: i64,
    first_ts: i64,
    before: Evidence,
    resume: Evidence,
    /// The director's reset; `None`: the packet was not forwarded.
    rst: Option<Evidence>,
}

#[derive(Default, Clone)]
pub struct IpvsIdleTimeout {
    died: Vec<Died>,
    overflow: u64,
}

impl Check for IpvsIdleTimeout {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        if v.flow.proto != Proto::Tcp || !v.established {
            return;
        }
        let Some(g) = lifecycle::life(v).and_then(|l| l.gap.as_ref()) else {
            return;
        };
        // Reset from the VIP by the director that had forwarded it (a
        // reset from another MAC is a failover's, not a timeout's),
        // whoever spoke first after the silence: in DR/TUN a server that
        // pushes reaches the client directly, and the client's answer
        // finds no entry at the director.
        let rst = g
            .rst_after
            .iter()
            .find(|r| r.src == v.vaddr.ip && lifecycle::is_flow_director(v, r.src_mac));
        // Not forwarded: the client spoke first and nothing answered.
        let dropped = g.resumed_by_client
            && !g.server_after
            && g.rst_after.is_empty()
            && lifecycle::director_legs(v)
                .is_some_and(|(i, f)| g.is_after(i.last.time) && !g.is_after(f.last.time));
        if rst.is_none() && !dropped {
            return;
        }
        if self.died.len() >= MAX_KEPT {
            self.overflow += 1;
            return;
        }
        self.died.push(Died {
            vaddr: v.vaddr,
            idle_ns: g.idle_ns,
            first_ts: v.flow.first_ts,
            before: g.before,
            resume: g.resume,
            rst: rst.map(|r| r.at),
        });
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        let known = lifecycle::tcp_timeout(ctx);
        let timeout_s = known.as_ref().map_or(DEFAULT_TCP_TIMEOUT, |(t, _)| *t);
        let timeout_ns = i64::from(timeout_s) * 1_000_000_000;
        // IPVS's timer ticks: an entry may go up to a second early.
        let expired = |d: &Died| d.idle_ns + 1_000_000_000 >= timeout_ns;
        let mut services: Vec<_> = self.died.iter().map(|d| ctx.service(d.vaddr)).collect();
        services.sort();
        services.dedup();
        for svc in services {
            let died: Vec<&Died> = self
                .died
                .iter()
                .filter(|d| ctx.service(d.vaddr) == svc)
                // A known timeout must explain the silence; an unknown one
                // (the default assumed) only the director's own reset.
                .filter(|d| expired(d) || (known.is_none() && d.rst.is_some()))
                .collect();
            if died.is_empty() {
                continue;
            }
            let n = died.len() as u64;
            let resets = died.iter().filter(|d| d.rst.is_some()).count();
            let (min, max) = died.iter().fold((i64::MAX, 0), |(a, b), d| {
                (a.min(d.idle_ns), b.max(d.idle_ns))
            });
            let idle = if min == max {
                fmt_duration(min)
            } else {
                format!("{}–{}", fmt_duration(min), fmt_duration(max))
            };
            let what = match (resets, died.len() - resets) {
                (_, 0) => "the director reset it".to_string(),
                (0, _) => "the director did not forward it".to_string(),
                (r, d) => format!("the director reset {r} and did not forward {d}"),
            };
            let timeout = match &known {
                Some((t, from)) => format!("The director's IPVS TCP timeout is {t} s ({from})"),
                None if max + 1_000_000_000 >= timeout_ns => format!(
                    "The director's IPVS TCP timeout is not known here (no snapshot, no --ipvs-timeout); the default is {DEFAULT_TCP_TIMEOUT} s"
                ),
                None => format!(
                    "The director's IPVS TCP timeout is not known here (no snapshot, no --ipvs-timeout); the default of {DEFAULT_TCP_TIMEOUT} s would not have expired after {}, so it must have been lowered (ipvsadm -L --timeout shows it)",
                    fmt_duration(max)
                ),
            };
            let first = died
                .iter()
                .min_by_key(|d| d.resume.time)
                .expect("not empty");
            let mut ev: Vec<Evidence> = Vec::new();
            for d in died.iter().take(3) {
                ev.extend([d.before, d.resume]);
                ev.extend(d.rst);
            }
            let span = lifecycle::span(died.iter().map(|d| d.first_ts));
            // Keepalives well inside the timeout; or a timeout above the silence.
            let keepalive = (timeout_s / 3).max(1);
            let raise = (max / 1_000_000_000 + 60) as u64;
            let mut f = Finding::new(
                "ipvs-idle-timeout",
                Severity::Error,
                format!(
                    "{n} established connection(s) to {svc} died on their first packet after {idle} idle: {what}"
                ),
            )
            .service(svc)
            .cause(format!(
                "IPVS forgets a connection that has been idle longer than its TCP timeout. {timeout}. The client's next packet then finds no entry: IPVS does not schedule a packet that is not a SYN, so it goes to the director's own stack, which holds the VIP and answers with a reset (or it is dropped). The application's idle time is longer than the director's timeout."
            ))
            .evidence(ev)
            .config(known.iter().map(|(_, from)| from.clone()))
            .affected(n)
            .fix(format!(
                "Keep idle connections alive more often than the timeout: TCP keepalives every {keepalive} s or less (the application's keepalive option, or net.ipv4.tcp_keepalive_time={keepalive} with SO_KEEPALIVE on the clients or servers); or raise the director's timeout above the idle time: ipvsadm --set {raise} 120 300 (TCP, TCP FIN, UDP; keep your FIN and UDP values)."
            ));
            f.span = span;
            f.moment = Some((
                first.rst.map_or(first.resume.time, |e| e.time),
                format!(
                    "first connection lost after {} idle",
                    fmt_duration(first.idle_ns)
                ),
            ));
            if self.overflow > 0 {
                f.summary
                    .push_str(&format!(" (and {} more not kept)", self.overflow));
            }
            if resets < died.len() {
                f = f.absence();
            }
            out.push(f);
        }
    }
}
