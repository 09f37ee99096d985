//! `tun-pmtu-blackhole`: TUN (IP-in-IP); the client's full-size segments
//! plus the tunnel header exceed the MTU towards the real server, and the
//! client never lowers its segment size (the ICMP fragmentation-needed the
//! director sends is filtered, or never sent): full-size segments are
//! retransmitted and the connection stalls.
//!
//! Proves the fault (essential evidence):
//! - an established TCP connection seen forwarded in TUN (its encapsulated
//!   SYN captured; the model's mode is not used, so without that capture it
//!   is reported as `pmtu-blackhole`);
//! - the client re-sent data 3 times or more on one leg, its smallest
//!   re-sent segment 1280 bytes or more, never acknowledged past it.
//!
//! Makes it more certain (supporting, not required):
//! - the director's ICMP fragmentation-needed (the MTU it names);
//! - the MSS the real server announced; the directors' interface MTUs from
//!   their snapshots (the arithmetic assumes a 20-byte IPv4 tunnel header).

use super::lifecycle::{self, PmtuVictim, MAX_KEPT};
use super::pmtu_blackhole::conclude;
use super::{Check, Context};
use crate::finding::Finding;
use crate::flow::hosts::HostMap;
use crate::flow::view::FlowView;

#[derive(Default, Clone)]
pub struct TunPmtuBlackhole {
    victims: Vec<PmtuVictim>,
}

impl Check for TunPmtuBlackhole {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        // The tunnel seen, or (no forwarding seen) possibly a TUN
        // service's: the configuration decides at the end.
        if let Some(x) =
            lifecycle::pmtu_victim(v).filter(|x| x.tunnel || (!x.mode_seen && x.from_client))
        {
            if self.victims.len() < MAX_KEPT {
                self.victims.push(x);
            }
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        let tunnelled: Vec<PmtuVictim> = self
            .victims
            .iter()
            .filter(|x| lifecycle::through_tunnel(ctx, x))
            .cloned()
            .collect();
        conclude(ctx, &tunnelled, true, out);
    }
}
