//! `vrrp-master-flapping` (warning): the master of a virtual router keeps
//! changing: a router becomes master again after another took over, three
//! changes or more; or the adverts stop for longer than a backup takes to
//! take over (the longest master-down interval, 3 × interval + skew, plus
//! one interval), twice or more.
//! Orderly takeovers (each new master stays) are not flapping; two masters
//! at once are `vrrp-split-brain`.
//!
//! Proves the fault (essential evidence):
//! - for one VRID (address family and number), no two masters at once, and
//! - 3 master changes or more with at least one back to an earlier master,
//!   or 2 silences or more longer than the takeover time.
//!
//! Makes it more certain (supporting, not required):
//! - master changes rather than silences alone (silences alone make it an
//!   absence finding, weighed against capture losses).

use super::vrrp_common::flapping;
use super::{Check, Context};
use crate::finding::{Finding, Severity};
use crate::text::fmt_utc;

#[derive(Clone)]
pub struct VrrpMasterFlapping;

impl Check for VrrpMasterFlapping {
    fn wants_flows(&self) -> bool {
        false
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for x in ctx.hosts.vrrp.vrids.values() {
            let Some(f) = flapping(x) else {
                continue;
            };
            let by_changes = f.returns > 0 && f.changes >= 3;
            let timeline: Vec<String> = x
                .periods
                .iter()
                .take(8)
                .map(|p| format!("{} from {}", x.routers[p.router].ip, fmt_utc(p.from.time)))
                .collect();
            let mut what = Vec::new();
            if by_changes {
                what.push(format!(
                    "the master changed {} times ({} back to an earlier master)",
                    f.changes, f.returns
                ));
            }
            if f.silences > 0 {
                what.push(format!(
                    "the adverts stopped {} times for longer than a backup takes to take over",
                    f.silences
                ));
            }
            let mut finding = Finding::new(
                "vrrp-master-flapping",
                Severity::Warning,
                format!(
                    "{}: {}: {}{}",
                    x.key,
                    what.join(", and "),
                    timeline.join(", "),
                    if x.periods.len() > 8 { ", …" } else { "" }
                ),
            )
            .cause("The backup stops hearing the master now and then and takes over; the master's next advert (higher priority) takes it back. Adverts are lost on the way (a congested or lossy link, a busy CPU delaying keepalived, multicast dropped by the switch now and then), or the master itself keeps failing a tracked script or interface.")
            .evidence(
                x.periods
                    .iter()
                    .skip(1)
                    .map(|p| p.from)
                    .chain(x.gaps.iter().flat_map(|g| [g.0, g.1])),
            )
            .fix("Find the lost adverts: tcpdump -ni IFACE 'ip proto 112' on both routers and compare; look for packet loss (ip -s link, tc -s qdisc) and keepalived's log (journalctl -u keepalived: 'Entering MASTER/BACKUP STATE', script failures). A longer advert_int or nopreempt on the backup make short losses harmless.");
            if !by_changes {
                // Only silences: a capture point that dropped packets could
                // show the same.
                finding = finding.absence();
            }
            out.push(finding);
        }
    }
}
