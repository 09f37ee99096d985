//! Links, addresses, routes and neighbours over rtnetlink (dumps only; they
//! need no privilege). Messages are decoded by `netlink-packet-route`.

use super::nl::{decode_stream, Conn, NlError};
use super::{Address, Link, Neighbour, Route};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkInfo, LinkLayerType, LinkMessage};
use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The raw dump replies.
pub struct Streams {
    pub links: Vec<u8>,
    pub addresses: Vec<u8>,
    pub routes: Vec<u8>,
    pub neighbours: Vec<u8>,
}

pub fn read(conn: &mut Conn) -> Result<Streams, NlError> {
    let links = conn.request(
        "rtnl-links",
        RouteNetlinkMessage::GetLink(LinkMessage::default()),
        true,
    )?;
    let addresses = conn.request(
        "rtnl-addresses",
        RouteNetlinkMessage::GetAddress(AddressMessage::default()),
        true,
    )?;
    let routes = conn.request(
        "rtnl-routes",
        RouteNetlinkMessage::GetRoute(RouteMessage::default()),
        true,
    )?;
    let neighbours = conn.request(
        "rtnl-neighbours",
        RouteNetlinkMessage::GetNeighbour(NeighbourMessage::default()),
        true,
    )?;
    Ok(Streams {
        links,
        addresses,
        routes,
        neighbours,
    })
}

fn fmt_mac(b: &[u8]) -> Option<String> {
    (b.len() == 6).then(|| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    })
}

pub struct Decoded {
    pub links: Vec<Link>,
    pub addresses: Vec<Address>,
    pub routes: Vec<Route>,
    pub neighbours: Vec<Neighbour>,
}

pub fn decode(s: &Streams) -> Result<Decoded, String> {
    let mut links = Vec::new();
    for m in decode_stream::<RouteNetlinkMessage>(&s.links)? {
        let RouteNetlinkMessage::NewLink(l) = m else {
            continue;
        };
        let mut link = Link {
            index: l.header.index,
            up: l.header.flags.contains(LinkFlags::Up),
            link_type: match l.header.link_layer_type {
                LinkLayerType::Loopback => "loopback".into(),
                LinkLayerType::Ether => "ether".into(),
                LinkLayerType::Tunnel => "ipip".into(),
                LinkLayerType::Tunnel6 => "tunnel6".into(),
                t => t.to_string().to_lowercase(),
            },
            ..Default::default()
        };
        for a in &l.attributes {
            match a {
                LinkAttribute::IfName(n) => link.name = n.clone(),
                LinkAttribute::Address(m) => link.mac = fmt_mac(m),
                LinkAttribute::Mtu(m) => link.mtu = Some(*m),
                LinkAttribute::OperState(st) => link.state = st.to_string().to_lowercase(),
                LinkAttribute::LinkInfo(infos) => {
                    for i in infos {
                        if let LinkInfo::Kind(k) = i {
                            link.kind = Some(k.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        links.push(link);
    }
    let names: BTreeMap<u32, String> = links.iter().map(|l| (l.index, l.name.clone())).collect();
    let name = |i: u32| names.get(&i).cloned().unwrap_or_else(|| format!("if{i}"));

    let mut addresses = Vec::new();
    for m in decode_stream::<RouteNetlinkMessage>(&s.addresses)? {
        let RouteNetlinkMessage::NewAddress(a) = m else {
            continue;
        };
        // IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer on
        // point-to-point links); IPv6 sends only IFA_ADDRESS.
        let local = a.attributes.iter().find_map(|x| match x {
            AddressAttribute::Local(ip) => Some(*ip),
            _ => None,
        });
        let address = local.or_else(|| {
            a.attributes.iter().find_map(|x| match x {
                AddressAttribute::Address(ip) => Some(*ip),
                _ => None,
            })
        });
        if let Some(address) = address {
            addresses.push(Address {
                ifindex: a.header.index,
                ifname: name(a.header.index),
                address,
                prefix_len: a.header.prefix_len,
                scope: a.header.scope.to_string(),
            });
        }
    }

    let mut routes = Vec::new();
    for m in decode_stream::<RouteNetlinkMessage>(&s.routes)? {
        let RouteNetlinkMessage::NewRoute(r) = m else {
            continue;
        };
        let ip = |a: &RouteAddress| match a {
            RouteAddress::Inet(v) => Some(IpAddr::V4(*v)),
            RouteAddress::Inet6(v) => Some(IpAddr::V6(*v)),
            _ => None,
        };
        let mut table = u32::from(r.header.table);
        let mut route = Route {
            dst: match r.header.address_family {
                AddressFamily::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            },
            prefix_len: r.header.destination_prefix_length,
            gateway: None,
            dev: None,
            prefsrc: None,
            table: String::new(),
            kind: match r.header.kind {
                RouteType::Unicast => "unicast".into(),
                RouteType::Local => "local".into(),
                RouteType::Broadcast => "broadcast".into(),
                RouteType::Multicast => "multicast".into(),
                RouteType::Anycast => "anycast".into(),
                RouteType::Unreachable => "unreachable".into(),
                RouteType::Prohibit => "prohibit".into(),
                RouteType::BlackHole => "blackhole".into(),
                t => format!("{t:?}").to_lowercase(),
            },
            metric: None,
        };
        if !matches!(
            r.header.address_family,
            AddressFamily::Inet | AddressFamily::Inet6
        ) {
            continue;
        }
        for a in &r.attributes {
            match a {
                RouteAttribute::Destination(d) => {
                    if let Some(d) = ip(d) {
                        route.dst = d
                    }
                }
                RouteAttribute::Gateway(g) => route.gateway = ip(g),
                RouteAttribute::PrefSource(p) => route.prefsrc = ip(p),
                RouteAttribute::Oif(i) => route.dev = Some(name(*i)),
                RouteAttribute::Priority(p) => route.metric = Some(*p),
                RouteAttribute::Table(t) => table = *t,
                _ => {}
            }
        }
        route.table = match table {
            254 => "main".into(),
            255 => "local".into(),
            253 => "default".into(),
            n => n.to_string(),
        };
        routes.push(route);
    }

    let mut neighbours = Vec::new();
    for m in decode_stream::<RouteNetlinkMessage>(&s.neighbours)? {
        let RouteNetlinkMessage::NewNeighbour(n) = m else {
            continue;
        };
        let mut address = None;
        let mut mac = None;
        for a in &n.attributes {
            match a {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(v)) => {
                    address = Some(IpAddr::V4(*v))
                }
                NeighbourAttribute::Destination(NeighbourAddress::Inet6(v)) => {
                    address = Some(IpAddr::V6(*v))
                }
                NeighbourAttribute::LinkLayerAddress(m) => mac = fmt_mac(m),
                _ => {}
            }
        }
        if let Some(address) = address {
            neighbours.push(Neighbour {
                address,
                mac,
                dev: name(n.header.ifindex),
                state: n.header.state.to_string(),
            });
        }
    }
    Ok(Decoded {
        links,
        addresses,
        routes,
        neighbours,
    })
}
