//! Linux cooked capture v2 (`LINKTYPE_LINUX_SLL2`, 276), written by
//! `tcpdump -i any`. etherparse reads only SLL v1, so this 20-byte header is
//! parsed here:
//!
//! ```text
//! 0      2      4              8      10   11   12
//! +------+------+--------------+------+----+----+----------------+
//! |proto |resv  | if index     |hatype|pkt |alen| addr (8 bytes) |
//! +------+------+--------------+------+----+----+----------------+
//! ```

pub const HEADER_LEN: usize = 20;

/// Packet type: sent by this host.
pub const PACKET_OUTGOING: u8 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sll2<'a> {
    pub protocol: u16,
    pub if_index: u32,
    pub hatype: u16,
    pub packet_type: u8,
    /// Link-layer address of the sender, `addr_len` bytes long (at most 8).
    pub addr: &'a [u8],
    pub payload: &'a [u8],
}

impl<'a> Sll2<'a> {
    pub fn parse(b: &'a [u8]) -> Option<Sll2<'a>> {
        let h = b.get(..HEADER_LEN)?;
        let addr_len = usize::from(h[11]).min(8);
        Some(Sll2 {
            protocol: u16::from_be_bytes([h[0], h[1]]),
            if_index: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            hatype: u16::from_be_bytes([h[8], h[9]]),
            packet_type: h[10],
            addr: &h[12..12 + addr_len],
            payload: &b[HEADER_LEN..],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_fields() {
        let mut b = vec![0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6];
        b.extend_from_slice(&[2, 0, 0, 0, 0x0d, 0, 0, 0]);
        b.extend_from_slice(&[0x45, 0]);
        let s = Sll2::parse(&b).unwrap();
        assert_eq!(s.protocol, 0x0800);
        assert_eq!(s.if_index, 3);
        assert_eq!(s.hatype, 1);
        assert_eq!(s.packet_type, PACKET_OUTGOING);
        assert_eq!(s.addr, &[2, 0, 0, 0, 0x0d, 0]);
        assert_eq!(s.payload, &[0x45, 0]);
    }

    #[test]
    fn rejects_short_and_clamps_addr_len() {
        assert!(Sll2::parse(&[0; 19]).is_none());
        let mut b = [0u8; 20];
        b[11] = 255;
        assert_eq!(Sll2::parse(&b).unwrap().addr.len(), 8);
    }
}
