//! `nat-masquerade-without-vs-conntrack`: a NAT director has a masquerade
//! (or SNAT) rule for the traffic IPVS forwards, but
//! `net.ipv4.vs.conntrack` = 0. IPVS then detaches its forwarded packets
//! from conntrack (`ip_vs_notrack`), so no NAT rule applies to them: they
//! leave with the client's own source, the real servers answer the client
//! directly, around the director, and the client resets the answers. This
//! is how kube-proxy's IPVS mode breaks when something sets the sysctl
//! back to 0 (kube-proxy sets it to 1 at start).
//!
//! Proves the fault (essential evidence):
//! - the director's snapshot: IPVS with a masquerading (NAT) destination,
//!   `net.ipv4.vs.conntrack` = 0, and an nftables rule that masquerades or
//!   source-NATs.
//!
//! Makes it more certain (supporting, not required):
//! - the traffic: NAT connections forwarded with the client's own source
//!   (no masquerade on the forwarded leg) while the rule exists.

use super::config_view::line;
use super::{Check, Context};
use crate::finding::{EvidenceSet, Finding, Severity};
use crate::flow::hosts::HostMap;
use crate::flow::view::FlowView;
use crate::model::Mode;
use crate::system::{nft, Forward};

#[derive(Default, Clone)]
pub struct NatMasqueradeWithoutVsConntrack {
    /// NAT connections forwarded with the client's own source.
    unmasqueraded: u64,
    evidence: EvidenceSet,
}

impl Check for NatMasqueradeWithoutVsConntrack {
    fn on_flow(&mut self, v: &FlowView<'_>, _hosts: &HostMap) {
        if let (Some(Mode::Nat), Some(fw)) = (v.mode, v.forward) {
            if fw.masq.is_none() {
                self.unmasqueraded += 1;
                if self.evidence.iter().count() < 16 {
                    self.evidence.push(fw.at);
                }
            }
        }
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        for h in ctx.snapshots {
            let Some(ipvs) = &h.ipvs else { continue };
            let nat = ipvs
                .services
                .iter()
                .flat_map(|s| &s.destinations)
                .any(|d| d.forward == Forward::Masq);
            if !nat || h.sysctl("net.ipv4.vs.conntrack") != Some(0) {
                continue;
            }
            let rules = h
                .nftables
                .as_ref()
                .map(nft::source_nat_rules)
                .unwrap_or_default();
            if rules.is_empty() {
                continue;
            }
            let seen = if self.unmasqueraded > 0 {
                format!(
                    "; the capture shows {} connection(s) forwarded with the client's own source",
                    self.unmasqueraded
                )
            } else {
                String::new()
            };
            let mut config = vec![line(h, "net.ipv4.vs.conntrack = 0")];
            config.extend(
                rules
                    .iter()
                    .take(4)
                    .map(|r| line(h, format!("nftables {r}"))),
            );
            out.push(
                Finding::new(
                    "nat-masquerade-without-vs-conntrack",
                    Severity::Error,
                    format!("director {} masquerades forwarded IPVS traffic but net.ipv4.vs.conntrack is 0: the rule never applies{seen}", h.host),
                )
                .cause("With net.ipv4.vs.conntrack = 0 IPVS takes its forwarded packets out of connection tracking, and netfilter's NAT works only on tracked packets, so the masquerade/SNAT rule never rewrites them. The real servers see the client's address and answer it directly, around the director; the client, talking to the VIP, resets those answers. kube-proxy in IPVS mode sets the sysctl to 1 at start and needs it.")
                .config(config)
                .evidence_set(&self.evidence)
                .fix(format!("On {}: sysctl -w net.ipv4.vs.conntrack=1 (persist in /etc/sysctl.d/, and find what set it to 0).", h.host)),
            );
        }
    }
}
