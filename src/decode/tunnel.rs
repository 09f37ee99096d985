//! The encapsulations IPVS's tunnel mode can use besides IP-in-IP
//! (`ipvsadm --tun-type gue|gre`, Linux ≥ 5.3): each gives the inner IP
//! packet, which [`super::decode_ip`] then decodes with the tunnel's
//! addresses as for IP-in-IP. Neither header says it is a tunnel the way
//! IP protocol 4 does, so the inner packet must be a whole IP header of the
//! version the tunnel names, whose length accounts for every byte that
//! follows (`cut`: the capture kept fewer bytes than the packet had).
//!
//! - GUE (draft-ietf-intarea-gue, as `ip fou add … gue` takes it): a UDP
//!   payload starting with a 4-byte header, version 0, no control bit,
//!   `hlen` words of options, and the inner protocol (4 or 41); or version
//!   1, the inner IPv4/IPv6 header itself ("direct IP encapsulation").
//! - GRE (RFC 2784/2890, IP protocol 47): version 0, no routing, protocol
//!   0x0800 or 0x86DD, the checksum, key and sequence words as flagged.

/// How a tunnel-mode director wraps what it forwards (IPVS's `tun_type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Encap {
    /// IP-in-IP (IP protocol 4, or 41 for IPv6 inside): IPVS's default.
    #[default]
    Ipip,
    /// GUE on this UDP destination port (`--tun-type gue --tun-port N`).
    Gue { port: u16 },
    /// GRE (IP protocol 47).
    Gre,
}

impl Encap {
    /// `IP-in-IP`, `GUE (UDP 6080)`, `GRE`.
    pub fn name(self) -> String {
        match self {
            Encap::Ipip => "IP-in-IP".into(),
            Encap::Gue { port } => format!("GUE (UDP {port})"),
            Encap::Gre => "GRE".into(),
        }
    }

    /// Bytes the director adds to each packet (an outer IPv4 or IPv6
    /// header, and the UDP and GUE or the GRE header; no GRE options).
    pub fn overhead(self, outer_v6: bool) -> u32 {
        let ip = if outer_v6 { 40 } else { 20 };
        ip + match self {
            Encap::Ipip => 0,
            Encap::Gue { .. } => 8 + 4,
            Encap::Gre => 4,
        }
    }
}

/// The inner packet of a GUE datagram (its UDP payload), if it is one.
pub fn gue_inner(b: &[u8], cut: bool) -> Option<&[u8]> {
    let first = *b.first()?;
    let (inner, version) = match first >> 6 {
        0 => {
            // C: a control message, no packet inside.
            if first & 0x20 != 0 {
                return None;
            }
            let hlen = usize::from(first & 0x1f) * 4;
            let version = match *b.get(1)? {
                4 => 4,
                41 => 6,
                _ => return None,
            };
            (b.get(4 + hlen..)?, version)
        }
        1 => (b, first >> 4),
        _ => return None,
    };
    whole_ip(inner, version, cut).then_some(inner)
}

/// The inner packet of a GRE packet (the IP payload), if it carries IP.
pub fn gre_inner(b: &[u8], cut: bool) -> Option<&[u8]> {
    let flags = u16::from_be_bytes([*b.first()?, *b.get(1)?]);
    // Version 0 only; no source routing (deprecated, never IPVS's).
    if flags & 0x0007 != 0 || flags & 0x4000 != 0 {
        return None;
    }
    let version = match u16::from_be_bytes([*b.get(2)?, *b.get(3)?]) {
        0x0800 => 4,
        0x86dd => 6,
        _ => return None,
    };
    let words = [0x8000u16, 0x2000, 0x1000]
        .iter()
        .filter(|f| flags & **f != 0)
        .count();
    let inner = b.get(4 + 4 * words..)?;
    whole_ip(inner, version, cut).then_some(inner)
}

/// An IP header of `version` whose stated length is exactly what follows
/// (at least it, when the capture cut the packet).
fn whole_ip(b: &[u8], version: u8, cut: bool) -> bool {
    let stated = match (version, b.first().map(|v| v >> 4)) {
        (4, Some(4)) => {
            let ihl = usize::from(b[0] & 0x0f) * 4;
            match b.get(2..4) {
                Some(l) if ihl >= 20 => {
                    let total = usize::from(u16::from_be_bytes([l[0], l[1]]));
                    if total < ihl {
                        return false;
                    }
                    total
                }
                _ => return false,
            }
        }
        (6, Some(6)) => match b.get(4..6) {
            Some(l) => 40 + usize::from(u16::from_be_bytes([l[0], l[1]])),
            None => return false,
        },
        _ => return false,
    };
    if cut {
        stated >= b.len()
    } else {
        stated == b.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(payload: usize) -> Vec<u8> {
        let mut v = vec![0u8; 20 + payload];
        v[0] = 0x45;
        v[2..4].copy_from_slice(&((20 + payload) as u16).to_be_bytes());
        v
    }

    #[test]
    fn gue_versions_and_options() {
        let inner = ipv4(8);
        let mut v0 = vec![0x00, 4, 0, 0];
        v0.extend(&inner);
        assert_eq!(gue_inner(&v0, false), Some(&inner[..]));
        // One word of options.
        let mut opt = vec![0x01, 4, 0, 0, 9, 9, 9, 9];
        opt.extend(&inner);
        assert_eq!(gue_inner(&opt, false), Some(&inner[..]));
        // Direct IP (version 1).
        assert_eq!(gue_inner(&inner, false), Some(&inner[..]));
        // A control message, another protocol, a version mismatch, a
        // length that does not add up, a cut packet.
        let mut ctl = v0.clone();
        ctl[0] = 0x20;
        assert_eq!(gue_inner(&ctl, false), None);
        let mut other = v0.clone();
        other[1] = 17;
        assert_eq!(gue_inner(&other, false), None);
        let mut v6 = v0.clone();
        v6[1] = 41;
        assert_eq!(gue_inner(&v6, false), None);
        assert_eq!(gue_inner(&v0[..v0.len() - 1], false), None);
        assert!(gue_inner(&v0[..v0.len() - 1], true).is_some());
        // DNS, say: not a tunnel.
        assert_eq!(gue_inner(&[0x12, 0x34, 1, 0, 0, 1], false), None);
    }

    #[test]
    fn gre_flags_and_protocols() {
        let inner = ipv4(0);
        let mut plain = vec![0, 0, 0x08, 0x00];
        plain.extend(&inner);
        assert_eq!(gre_inner(&plain, false), Some(&inner[..]));
        // Checksum and key present.
        let mut ck = vec![0xa0, 0, 0x08, 0x00, 0, 0, 0, 0, 1, 2, 3, 4];
        ck.extend(&inner);
        assert_eq!(gre_inner(&ck, false), Some(&inner[..]));
        // Version 1 (PPTP), routing, Ethernet inside: not IPVS's.
        let mut pptp = plain.clone();
        pptp[1] = 1;
        assert_eq!(gre_inner(&pptp, false), None);
        let mut routing = plain.clone();
        routing[0] = 0x40;
        assert_eq!(gre_inner(&routing, false), None);
        let mut eth = plain.clone();
        eth[2..4].copy_from_slice(&[0x65, 0x58]);
        assert_eq!(gre_inner(&eth, false), None);
        assert_eq!(gre_inner(&[0, 0], false), None);
    }
}
