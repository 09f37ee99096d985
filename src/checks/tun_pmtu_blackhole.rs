//! `tun-pmtu-blackhole`: TUN (IP-in-IP); the client's full-size segments
//! plus the tunnel header exceed the MTU towards the real server, and the
//! client never lowers its segment size (the ICMP fragmentation-needed the
//! director sends is filtered, or never sent): full-size segments are
//! retransmitted and the connection stalls.

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
        if let Some(x) = lifecycle::pmtu_victim(v).filter(|x| x.tunnel) {
            if self.victims.len() < MAX_KEPT {
                self.victims.push(x);
            }
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        conclude(ctx, &self.victims, true, out);
    }
}
