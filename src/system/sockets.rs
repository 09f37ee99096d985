//! Listening sockets, from `/proc/net/{tcp,tcp6,udp,udp6}` of the calling
//! thread's network namespace (`/proc/thread-self/net/…`): what `ss -ltn`
//! and `ss -lun` show, readable without privilege.

use super::Listener;
use crate::model::Proto;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// TCP_LISTEN in the `st` column.
const LISTEN: &str = "0A";
/// An unconnected UDP socket (TCP_CLOSE in the `st` column): one that
/// takes datagrams from anyone.
const UDP_UNCONNECTED: &str = "07";

/// Reads the TCP tables under `net` (e.g. `/proc/thread-self/net`). `Err`
/// names the file that could not be read.
pub fn read(net: &Path) -> Result<Vec<Listener>, String> {
    read_tables(net, Proto::Tcp)
}

/// Reads the UDP tables under `net`: the unconnected sockets.
pub fn read_udp(net: &Path) -> Result<Vec<Listener>, String> {
    read_tables(net, Proto::Udp)
}

fn read_tables(net: &Path, proto: Proto) -> Result<Vec<Listener>, String> {
    let (v4, v6) = match proto {
        Proto::Udp => ("udp", "udp6"),
        _ => ("tcp", "tcp6"),
    };
    let mut out = Vec::new();
    for f in [v4, v6] {
        let p = net.join(f);
        match std::fs::read_to_string(&p) {
            Ok(text) => out.extend(parse_table(&text, proto)),
            // No IPv6 in this kernel: no tcp6/udp6 table.
            Err(e) if f == v6 && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", p.display())),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The listening sockets of one TCP table's text; malformed lines are skipped.
pub fn parse(text: &str) -> Vec<Listener> {
    parse_table(text, Proto::Tcp)
}

/// The listening (TCP) or unconnected (UDP) sockets of one table's text.
pub fn parse_table(text: &str, proto: Proto) -> Vec<Listener> {
    let want = if proto == Proto::Udp {
        UDP_UNCONNECTED
    } else {
        LISTEN
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut cols = l.split_whitespace();
            let local = cols.nth(1)?;
            let state = cols.nth(1)?;
            if state != want {
                return None;
            }
            let (addr, port) = local.split_once(':')?;
            Some(Listener {
                protocol: proto,
                address: hex_addr(addr)?,
                port: u16::from_str_radix(port, 16).ok()?,
            })
        })
        .collect()
}

/// The kernel prints each 32-bit word of the address as it lies in memory
/// (`%08X` of a host-order load of network-order bytes).
fn hex_addr(s: &str) -> Option<IpAddr> {
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = s.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(w, 16).ok()?.to_ne_bytes())
    };
    match s.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ne(b: [u8; 4]) -> String {
        format!("{:08X}", u32::from_ne_bytes(b))
    }

    #[test]
    fn listeners_only_with_addresses_and_ports_decoded() {
        let v4 = format!(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
             0: {}:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000 100 0 0 10 0\n\
             1: {}:0016 {}:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000 100 0 0 10 0\n\
             2: {}:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000 100 0 0 10 0\n\
             garbage line\n",
            ne([0, 0, 0, 0]),
            ne([192, 0, 2, 11]),
            ne([203, 0, 113, 10]),
            ne([192, 0, 2, 100]),
        );
        let l = parse(&v4);
        assert_eq!(l.len(), 2, "{l:?}");
        assert_eq!((l[0].address, l[0].port), ("0.0.0.0".parse().unwrap(), 80));
        assert_eq!(
            (l[1].address, l[1].port),
            ("192.0.2.100".parse().unwrap(), 8080)
        );
        let a: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let o = a.octets();
        let hex: String = (0..4)
            .map(|i| ne([o[i * 4], o[i * 4 + 1], o[i * 4 + 2], o[i * 4 + 3]]))
            .collect();
        let v6 = format!("  sl  local_address ...\n   0: {hex}:0050 00000000000000000000000000000000:0000 0A 0 0\n");
        let l = parse(&v6);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].address, IpAddr::V6(a));
    }

    #[test]
    fn udp_sockets_are_the_unconnected_ones() {
        let text = format!(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
             1: {}:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000 0\n\
             2: {}:9C40 {}:0035 01 00000000:00000000 00:00000000 00000000     0        0 2 2 0000 0\n",
            ne([192, 0, 2, 100]),
            ne([203, 0, 113, 10]),
            ne([192, 0, 2, 100]),
        );
        let l = parse_table(&text, Proto::Udp);
        assert_eq!(l.len(), 1, "a connected client socket is no server: {l:?}");
        assert_eq!(
            (l[0].protocol, l[0].address, l[0].port),
            (Proto::Udp, "192.0.2.100".parse().unwrap(), 53)
        );
        assert!(parse(&text).is_empty(), "no TCP LISTEN line");
    }

    #[test]
    fn this_hosts_tables_parse() {
        // Whatever listens here, every LISTEN line must decode.
        let text = std::fs::read_to_string("/proc/self/net/tcp").unwrap_or_default();
        let listening = text
            .lines()
            .skip(1)
            .filter(|l| l.split_whitespace().nth(3) == Some(LISTEN))
            .count();
        assert_eq!(parse(&text).len(), listening);
    }
}
