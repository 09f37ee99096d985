//! IP protocol 112: VRRP advertisements (RFC 3768 version 2, RFC 5798/9568
//! version 3, over IPv4 and IPv6, multicast or keepalived's unicast peers)
//! and OpenBSD CARP, which uses the same protocol number and the same first
//! byte as VRRPv2.
//!
//! A VRRPv2 advertisement is 8 bytes of header, `count` IPv4 addresses and
//! 8 bytes of authentication data; a CARP advertisement is 36 bytes (its
//! fourth byte, where VRRP keeps the address count, is the HMAC length, 7).
//! The length therefore tells them apart: a version-2 packet whose length is
//! not exactly what its count says is CARP when it has CARP's shape, and
//! malformed otherwise (a lying count is counted, never read past).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Addresses kept from one advertisement; the whole set is also summed up
/// in [`Vrrp::set`] so that two sets compare exactly.
pub const KEPT_ADDRS: usize = 4;

/// One VRRP advertisement (the typed view of its fixed fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vrrp {
    /// 2 or 3.
    pub version: u8,
    pub vrid: u8,
    /// 255: the address owner; 0: the master is giving up.
    pub priority: u8,
    /// Advertisement interval in centiseconds (version 2 carries seconds).
    pub interval_cs: u16,
    /// Version 2 only: 0 none, 1 simple text password, 2 IP AH.
    pub auth: Option<u8>,
    /// How many addresses the advertisement carries.
    pub count: u8,
    /// The first [`KEPT_ADDRS`] of them.
    addrs: [IpAddr; KEPT_ADDRS],
    /// How many were read (fewer than `count` when the capture cut it).
    read: u8,
    /// An order-independent digest of every address: equal sets, equal
    /// digests (only when `complete`).
    pub set: u64,
    /// Every address was read.
    pub complete: bool,
}

impl Vrrp {
    /// The addresses kept (all of them when `count <= KEPT_ADDRS`).
    pub fn addrs(&self) -> &[IpAddr] {
        &self.addrs[..usize::from(self.read).min(KEPT_ADDRS)]
    }
}

/// What a protocol-112 payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P112 {
    Vrrp(Vrrp),
    /// OpenBSD CARP (virtual host id): not VRRP, not judged as VRRP.
    Carp(u8),
    /// Not an advertisement we can read: a wrong version or type, a length
    /// that disagrees with the address count, a cut packet.
    Malformed,
}

/// Reads the payload of an IPv4 (`v6` false) or IPv6 packet with protocol 112.
/// `full` is false when the snap length cut the packet: then the addresses
/// that are there are read and the length is not judged.
pub fn parse(b: &[u8], v6: bool, full: bool) -> P112 {
    let Some(h) = b.get(..8) else {
        return P112::Malformed;
    };
    let (version, ty) = (h[0] >> 4, h[0] & 0x0f);
    if ty != 1 {
        return P112::Malformed;
    }
    let count = h[3];
    let alen = if v6 { 16 } else { 4 };
    let (interval_cs, auth, want) = match version {
        2 if !v6 => (
            u16::from(h[5]) * 100,
            Some(h[4]),
            8 + 4 * usize::from(count) + 8,
        ),
        3 => (
            u16::from_be_bytes([h[4], h[5]]) & 0x0fff,
            None,
            8 + alen * usize::from(count),
        ),
        _ => return P112::Malformed,
    };
    if full && b.len() != want {
        // CARP: version 2, type 1, 36 bytes, HMAC length 7 where VRRP has
        // its count.
        if version == 2 && b.len() == 36 && count == 7 {
            return P112::Carp(h[1]);
        }
        return P112::Malformed;
    }
    let mut addrs = [IpAddr::V4(Ipv4Addr::UNSPECIFIED); KEPT_ADDRS];
    let mut set = 0u64;
    let mut read = 0u8;
    for (i, a) in b[8..]
        .chunks_exact(alen)
        .take(usize::from(count))
        .enumerate()
    {
        let ip = if v6 {
            let o: [u8; 16] = a.try_into().expect("16 bytes");
            IpAddr::V6(Ipv6Addr::from(o))
        } else {
            let o: [u8; 4] = a.try_into().expect("4 bytes");
            IpAddr::V4(Ipv4Addr::from(o))
        };
        if let Some(slot) = addrs.get_mut(i) {
            *slot = ip;
        }
        set = set.wrapping_add(mix(a));
        read += 1;
    }
    P112::Vrrp(Vrrp {
        version,
        vrid: h[1],
        priority: h[2],
        interval_cs,
        auth,
        count,
        addrs,
        read,
        set,
        complete: read == count,
    })
}

/// A 64-bit mix of one address's bytes (FNV-1a, then a finalizer), summed
/// over the set so that order does not matter.
fn mix(a: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &x in a {
        h = (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(vrid: u8, prio: u8, addrs: &[[u8; 4]]) -> Vec<u8> {
        let mut b = vec![0x21, vrid, prio, addrs.len() as u8, 0, 1, 0, 0];
        for a in addrs {
            b.extend_from_slice(a);
        }
        b.extend_from_slice(&[0; 8]);
        b
    }

    #[test]
    fn version_2_and_3_advertisements() {
        let b = v2(51, 150, &[[192, 0, 2, 100], [192, 0, 2, 101]]);
        let P112::Vrrp(v) = parse(&b, false, true) else {
            panic!("{:?}", parse(&b, false, true))
        };
        assert_eq!(
            (v.version, v.vrid, v.priority, v.interval_cs),
            (2, 51, 150, 100)
        );
        assert_eq!(v.auth, Some(0));
        assert_eq!(
            v.addrs(),
            [
                "192.0.2.100".parse::<IpAddr>().unwrap(),
                "192.0.2.101".parse().unwrap()
            ]
        );
        // The same set in another order has the same digest.
        let c = v2(51, 150, &[[192, 0, 2, 101], [192, 0, 2, 100]]);
        let P112::Vrrp(w) = parse(&c, false, true) else {
            panic!()
        };
        assert_eq!(v.set, w.set);
        let d = v2(51, 150, &[[192, 0, 2, 101]]);
        let P112::Vrrp(x) = parse(&d, false, true) else {
            panic!()
        };
        assert_ne!(v.set, x.set);
        // Version 3 over IPv6: centiseconds, 16-byte addresses, no auth.
        let mut b = vec![0x31, 7, 100, 1, 0x00, 0x64, 0, 0];
        b.extend_from_slice(&"2001:db8::100".parse::<Ipv6Addr>().unwrap().octets());
        let P112::Vrrp(v) = parse(&b, true, true) else {
            panic!()
        };
        assert_eq!(
            (v.version, v.vrid, v.interval_cs, v.auth),
            (3, 7, 100, None)
        );
        assert_eq!(v.addrs()[0].to_string(), "2001:db8::100");
    }

    #[test]
    fn carp_and_lying_counts_are_not_vrrp() {
        // CARP: version 2, type 1, vhid 1, advskew 0, authlen 7, 36 bytes.
        let mut carp = vec![0x21, 1, 0, 7, 0, 1, 0, 0];
        carp.extend_from_slice(&[0xaa; 28]);
        assert_eq!(parse(&carp, false, true), P112::Carp(1));
        // A count of 200 addresses on a 20-byte packet.
        let mut b = v2(51, 150, &[[192, 0, 2, 100]]);
        b[3] = 200;
        assert_eq!(parse(&b, false, true), P112::Malformed);
        // Cut by the snap length: what is there is read.
        let b = v2(51, 150, &[[192, 0, 2, 100], [192, 0, 2, 101]]);
        let P112::Vrrp(v) = parse(&b[..12], false, false) else {
            panic!()
        };
        assert_eq!((v.addrs().len(), v.complete), (1, false));
        for bad in [
            &[][..],
            &[0x21, 1, 2],
            &[0x22, 1, 100, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],
            &[0x41, 1, 100, 0, 0, 1, 0, 0][..],
        ] {
            assert_eq!(parse(bad, false, true), P112::Malformed, "{bad:?}");
        }
    }
}
