//! Link layers: which ones lvsdiag reads, and peeling them off a frame.

use super::{sll2::Sll2, DecodeError, Mac, L2};
use etherparse::{EtherType, Ethernet2Slice, LinuxSllHeaderSlice, SingleVlanSlice};

/// The link types lvsdiag decodes (pcap `LINKTYPE_*` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// 1: Ethernet, with 802.1Q / QinQ tags.
    Ethernet,
    /// 113: Linux cooked capture v1.
    LinuxSll,
    /// 276: Linux cooked capture v2 (`tcpdump -i any`).
    LinuxSll2,
    /// 101 (and DLT 12/14), 228, 229: bare IPv4/IPv6.
    RawIp,
    /// 0 / 108: BSD loopback, 4-byte address family then IP.
    Null,
}

impl LinkType {
    /// Maps a pcap link-type number, or `None` when unsupported.
    pub fn from_pcap(v: i32) -> Option<LinkType> {
        Some(match v {
            1 => LinkType::Ethernet,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            12 | 14 | 101 | 228 | 229 => LinkType::RawIp,
            0 | 108 => LinkType::Null,
            _ => return None,
        })
    }

    /// The pcap link-type number to write this link type as.
    pub fn pcap_number(self) -> u16 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
            LinkType::RawIp => 101,
            LinkType::Null => 0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LinkType::Ethernet => "ethernet",
            LinkType::LinuxSll => "linux-sll",
            LinkType::LinuxSll2 => "linux-sll2",
            LinkType::RawIp => "raw-ip",
            LinkType::Null => "null",
        }
    }

    /// Whether frames carry the destination MAC (needed to see DR forwarding,
    /// traffic bypassing the director, and the reply path).
    pub fn has_dst_mac(self) -> bool {
        self == LinkType::Ethernet
    }
}

/// What is left after the link layer: the L2 addressing, the ether type when
/// the link layer names one (`None` = sniff the IP version), and the payload.
type Peeled<'a> = (Option<L2>, Option<EtherType>, &'a [u8]);

pub fn peel(link: LinkType, data: &[u8]) -> Result<Peeled<'_>, DecodeError> {
    match link {
        LinkType::Ethernet => peel_ethernet(data),
        LinkType::LinuxSll => {
            let h =
                LinuxSllHeaderSlice::from_slice(data).map_err(|_| DecodeError::TruncatedLink)?;
            let src = mac_from(h.sender_address());
            let et = match h.protocol_type() {
                etherparse::LinuxSllProtocolType::EtherType(et) => Some(et),
                _ => return Ok((src.map(l2_src_only), Some(EtherType(0)), &[])),
            };
            let rest = &data[h.slice().len()..];
            Ok((src.map(l2_src_only), et, rest))
        }
        LinkType::LinuxSll2 => {
            let h = Sll2::parse(data).ok_or(DecodeError::TruncatedLink)?;
            let src = if h.hatype == 1 {
                mac_from(h.addr)
            } else {
                None
            };
            Ok((src.map(l2_src_only), Some(EtherType(h.protocol)), h.payload))
        }
        LinkType::RawIp => Ok((None, None, data)),
        LinkType::Null => {
            if data.len() < 4 {
                return Err(DecodeError::TruncatedLink);
            }
            Ok((None, None, &data[4..]))
        }
    }
}

fn l2_src_only(src: Mac) -> L2 {
    L2 {
        src,
        dst: None,
        vlan: None,
    }
}

fn mac_from(b: &[u8]) -> Option<Mac> {
    b.get(..6)?.try_into().ok()
}

fn peel_ethernet(data: &[u8]) -> Result<Peeled<'_>, DecodeError> {
    let eth =
        Ethernet2Slice::from_slice_without_fcs(data).map_err(|_| DecodeError::TruncatedLink)?;
    let p = eth.payload();
    let (mut et, mut payload) = (p.ether_type, p.payload);
    let mut vlan = None;
    // 802.1Q / 802.1ad tags (QinQ): the outer tag identifies the segment.
    for _ in 0..3 {
        if et != EtherType::VLAN_TAGGED_FRAME
            && et != EtherType::PROVIDER_BRIDGING
            && et != EtherType::VLAN_DOUBLE_TAGGED_FRAME
        {
            break;
        }
        let Ok(tag) = SingleVlanSlice::from_slice(payload) else {
            return Err(DecodeError::TruncatedLink);
        };
        vlan.get_or_insert(tag.vlan_identifier().value());
        et = tag.ether_type();
        payload = tag.payload_slice();
    }
    let l2 = L2 {
        src: eth.source(),
        dst: Some(eth.destination()),
        vlan,
    };
    Ok((Some(l2), Some(et), payload))
}
