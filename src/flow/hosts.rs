//! What the traffic has taught us about hosts: which MACs are directors
//! (they forward VIP traffic), which are real servers, and who claims which
//! address. Checks read it when they conclude.

use super::neigh::NeighTable;
use crate::decode::Mac;
use crate::finding::Evidence;
use crate::model::Mode;
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// Knowledge about one MAC address.
#[derive(Debug, Clone, Default)]
pub struct MacRole {
    /// Forwarded connections for a VIP (it is a director).
    pub forwarded: u64,
    /// Received forwarded connections (it is a real server).
    pub received: u64,
    /// First forwarding packet seen from it / to it.
    pub evidence: Option<Evidence>,
}

#[derive(Debug, Default, Clone)]
pub struct HostMap {
    pub neigh: NeighTable,
    /// VRRP advertisements: who is master of each virtual router.
    pub vrrp: super::vrrp::VrrpTable,
    pub macs: FxHashMap<Mac, MacRole>,
    /// Real servers by RIP as seen in NAT rewrites or TUN encapsulation.
    pub rips: FxHashMap<IpAddr, Mode>,
    /// Director tunnel sources (TUN).
    pub tunnel_sources: FxHashMap<IpAddr, u64>,
    /// MACs seen forwarding.
    directors: usize,
}

const MAX_MACS: usize = 65_536;

impl HostMap {
    pub fn director(&mut self, mac: Mac, at: Evidence) {
        let mut new = false;
        if let Some(r) = self.role_mut(mac) {
            new = r.forwarded == 0;
            r.forwarded += 1;
            r.evidence.get_or_insert(at);
        }
        self.directors += usize::from(new);
    }

    pub fn has_director(&self) -> bool {
        self.directors > 0
    }

    pub fn real_server(&mut self, mac: Mac, at: Evidence) {
        if let Some(r) = self.role_mut(mac) {
            r.received += 1;
            r.evidence.get_or_insert(at);
        }
    }

    fn role_mut(&mut self, mac: Mac) -> Option<&mut MacRole> {
        if self.macs.len() >= MAX_MACS && !self.macs.contains_key(&mac) {
            return None;
        }
        Some(self.macs.entry(mac).or_default())
    }

    pub fn is_director(&self, mac: Mac) -> bool {
        self.macs.get(&mac).is_some_and(|r| r.forwarded > 0)
    }

    pub fn is_real_server(&self, mac: Mac) -> bool {
        self.macs
            .get(&mac)
            .is_some_and(|r| r.received > 0 && r.forwarded == 0)
    }

    pub fn directors(&self) -> impl Iterator<Item = Mac> + '_ {
        self.macs
            .iter()
            .filter(|(_, r)| r.forwarded > 0)
            .map(|(m, _)| *m)
    }

    /// The host address of a MAC: an address it claims that is not a VIP.
    /// Prefers addresses in `prefer` (e.g. configured real servers).
    pub fn ip_of(
        &self,
        mac: Mac,
        is_vip: impl Fn(IpAddr) -> bool,
        prefer: impl Fn(IpAddr) -> bool,
    ) -> Option<IpAddr> {
        let mut ips: Vec<IpAddr> = self.neigh.ips_of(mac).filter(|ip| !is_vip(*ip)).collect();
        ips.sort();
        ips.iter()
            .copied()
            .find(|ip| prefer(*ip))
            .or_else(|| ips.first().copied())
    }
}
