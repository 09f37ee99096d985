//! Finished connections kept for the TUI's Flows view: every failed or
//! anomalous one up to a cap far above what healthy traffic needs, and a
//! sample (the newest) of the healthy ones, so that at 100k connections the
//! failed ones are never pushed out of view by healthy traffic.
//!
//! Kept flows are shared (`Arc`), never copied: a published overview holds
//! the same allocations as the engine.

use super::view::FlowView;
use super::Flow;
use std::collections::VecDeque;
use std::sync::Arc;

/// Failed or anomalous connections kept (the newest). About 1 KB each.
pub const MAX_NOTABLE: usize = 20_000;

/// A connection worth keeping whatever healthy traffic does: failed (no
/// answer, reset, ICMP error), SYN retransmits, or retransmissions and
/// resets after the handshake.
pub fn notable(v: &FlowView<'_>) -> bool {
    let f = v.flow;
    v.failed
        || f.syn_retransmits() > 0
        || f.server_rst().is_some()
        || f.client_rst().is_some()
        || f.tcp_state()
            .and_then(|t| t.life.as_deref())
            .is_some_and(|l| !l.server_rst.is_empty() || l.legs.iter().any(|g| g.retx > 0))
}

#[derive(Clone, Default)]
pub struct Kept {
    notable: VecDeque<Arc<Flow>>,
    healthy: VecDeque<Arc<Flow>>,
    /// Healthy flows kept (the newest); notable ones up to [`MAX_NOTABLE`].
    healthy_cap: usize,
    /// Notable flows pushed out by newer notable ones.
    pub notable_dropped: u64,
}

impl Kept {
    pub fn new(healthy_cap: usize) -> Kept {
        Kept {
            healthy_cap,
            ..Kept::default()
        }
    }

    pub fn enabled(&self) -> bool {
        self.healthy_cap > 0
    }

    /// Keeps `f`, or gives it back when the flow view is off.
    pub fn push(&mut self, f: Box<Flow>, notable: bool) -> Option<Box<Flow>> {
        if !self.enabled() {
            return Some(f);
        }
        let (q, cap) = if notable {
            (&mut self.notable, MAX_NOTABLE)
        } else {
            (&mut self.healthy, self.healthy_cap)
        };
        if q.len() >= cap {
            q.pop_front();
            self.notable_dropped += u64::from(notable);
        }
        q.push_back(Arc::from(f));
        None
    }

    pub fn notable(&self) -> impl Iterator<Item = &Arc<Flow>> {
        self.notable.iter()
    }

    pub fn healthy(&self) -> impl Iterator<Item = &Arc<Flow>> {
        self.healthy.iter()
    }

    pub fn healthy_cap(&self) -> usize {
        self.healthy_cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn flow(i: u32) -> Box<Flow> {
        Box::new(Flow::tcp(
            IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)),
            i as u16,
            i,
            i64::from(i),
        ))
    }

    #[test]
    fn notable_flows_are_kept_up_to_their_cap_and_the_rest_counted() {
        let mut k = Kept::new(10);
        for i in 0..(MAX_NOTABLE as u32 + 300) {
            k.push(flow(i), true);
        }
        for i in 0..50 {
            k.push(flow(i), false);
        }
        assert_eq!(k.notable().count(), MAX_NOTABLE);
        assert_eq!(k.notable_dropped, 300);
        // The newest are kept.
        assert_eq!(k.notable().next().map(|f| f.first_ts), Some(300));
        assert_eq!(k.healthy().count(), 10);
        assert_eq!(k.healthy().next().map(|f| f.first_ts), Some(40));
    }

    #[test]
    fn nothing_is_kept_when_keeping_is_off() {
        let mut k = Kept::new(0);
        k.push(flow(1), true);
        k.push(flow(2), false);
        assert_eq!(k.notable().count() + k.healthy().count(), 0);
    }
}
