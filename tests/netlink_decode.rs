//! The IPVS and rtnetlink decoders on netlink replies recorded from the real
//! kernel (Debian 6.1, lab scenario snapshot-agree, `lab/check-snapshot
//! --update-fixtures`): fixtures/netlink/<host>/<request>.bin. The expected
//! values are what the scenario configured with ipvsadm and ip, and what
//! ipvsadm printed at the same moment (fixtures/netlink/director/ipvsadm-*.txt).

use lvsdiag::system::{self, ipvs, rtnl, HostSnapshot, IpvsService};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

fn dir(host: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/netlink")
        .join(host)
}

fn bin(host: &str, name: &str) -> Vec<u8> {
    std::fs::read(dir(host).join(format!("{name}.bin"))).unwrap()
}

fn director_ipvs() -> system::Ipvs {
    let services = bin("director", "ipvs-services");
    let n = ipvs::decode_services(&services).unwrap().len();
    ipvs::decode_all(&ipvs::Streams {
        services,
        dests: (0..n)
            .map(|i| bin("director", &format!("ipvs-dests-{i}")))
            .collect(),
        config: Some(bin("director", "ipvs-config")),
        daemons: Some(bin("director", "ipvs-daemons")),
        info: Some(bin("director", "ipvs-info")),
    })
    .unwrap()
}

fn svc<'a>(i: &'a system::Ipvs, label: &str) -> &'a IpvsService {
    i.services
        .iter()
        .find(|s| s.label() == label)
        .unwrap_or_else(|| panic!("no service {label}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn ipvs_family_is_found_in_the_controller_dump() {
    let id = ipvs::decode_family_id(&bin("director", "genl-families"), "IPVS").unwrap();
    assert!(id.is_some_and(|id| id >= 16), "{id:?}");
    assert_eq!(
        ipvs::decode_family_id(&bin("director", "genl-families"), "NOPE").unwrap(),
        None
    );
}

#[test]
fn ipvs_services_as_configured() {
    let i = director_ipvs();
    assert_eq!(i.version.as_deref(), Some("1.2.1"));
    assert_eq!(i.conn_tab_size, Some(4096));
    let mut labels: Vec<String> = i.services.iter().map(|s| s.label()).collect();
    labels.sort();
    assert_eq!(
        labels,
        [
            "192.0.2.100:53/udp",
            "192.0.2.100:80/tcp",
            "192.0.2.101:443/tcp",
            "192.0.2.102:80/tcp",
            "FWM 1",
            "[2001:db8::100]:80/tcp",
            "[2001:db8::101]:443/tcp",
        ]
    );

    // ipvsadm -A -f 1 -s wrr -p 120 -M 255.255.255.0
    let f = svc(&i, "FWM 1");
    assert_eq!(f.af, "inet");
    assert_eq!((f.protocol, f.address, f.port), (None, None, None));
    assert_eq!(f.scheduler.as_deref(), Some("wrr"));
    assert!(f.persistent);
    assert_eq!((f.timeout, f.netmask), (120, Some(24)));
    let r1 = f
        .destinations
        .iter()
        .find(|d| d.address == ip("198.51.100.11"))
        .unwrap();
    // -r 198.51.100.11 -g -w 2 -x 100 -y 10
    assert_eq!(
        (r1.forward.to_string().as_str(), r1.weight, r1.port),
        ("route", 2, 0)
    );
    assert_eq!((r1.u_threshold, r1.l_threshold), (Some(100), Some(10)));
    let r2 = f
        .destinations
        .iter()
        .find(|d| d.address == ip("198.51.100.12"))
        .unwrap();
    assert_eq!(r2.weight, 0);

    // IPv6 DR, persistent 300 (the IPv6 netmask is a prefix length: 128)
    let s6 = svc(&i, "[2001:db8::101]:443/tcp");
    assert_eq!(
        (
            s6.af.as_str(),
            s6.scheduler.as_deref(),
            s6.timeout,
            s6.netmask
        ),
        ("inet6", Some("sh"), 300, Some(128))
    );
    assert_eq!(s6.destinations.len(), 1);
    assert_eq!(s6.destinations[0].address, ip("2001:db8:1::13"));
    assert_eq!(
        (
            s6.destinations[0].port,
            s6.destinations[0].forward.to_string().as_str()
        ),
        (443, "route")
    );
    let n6 = svc(&i, "[2001:db8::100]:80/tcp");
    let mut w: Vec<(IpAddr, i64, String)> = n6
        .destinations
        .iter()
        .map(|d| (d.address, d.weight, d.forward.to_string()))
        .collect();
    w.sort();
    assert_eq!(
        w,
        [
            (ip("2001:db8:1::11"), 1, "masq".to_string()),
            (ip("2001:db8:1::12"), 2, "masq".to_string())
        ]
    );

    // TUN (ipip) and UDP
    let t = svc(&i, "192.0.2.102:80/tcp");
    assert_eq!(t.scheduler.as_deref(), Some("mh"));
    assert_eq!(
        (
            t.destinations[0].forward.to_string().as_str(),
            t.destinations[0].tun_type.as_deref()
        ),
        ("tunnel", Some("ipip"))
    );
    let u = svc(&i, "192.0.2.100:53/udp");
    assert_eq!(
        (
            u.scheduler.as_deref(),
            u.destinations[0].forward.to_string().as_str()
        ),
        (Some("sh"), "masq")
    );
    // Port byte order: 443 is 0x01bb on the wire.
    let dr = svc(&i, "192.0.2.101:443/tcp");
    assert!(dr.destinations.iter().all(|d| d.port == 443));
    assert!(!dr.persistent);
    assert_eq!(dr.netmask, Some(32));

    // Timeouts (ipvsadm --set 900 120 300) and the sync daemon.
    let to = i.timeouts.unwrap();
    assert_eq!((to.tcp, to.tcp_fin, to.udp), (900, 120, 300));
    assert_eq!(i.daemons.len(), 1);
    assert_eq!(
        (
            i.daemons[0].state.as_str(),
            i.daemons[0].interface.as_deref(),
            i.daemons[0].sync_id
        ),
        ("master", Some("eth1"), Some(7))
    );
}

/// The counters equal what `ipvsadm -Ln --stats --exact` printed.
#[test]
fn ipvs_counters_match_ipvsadm() {
    let i = director_ipvs();
    let text = std::fs::read_to_string(dir("director").join("ipvsadm-stats.txt")).unwrap();
    let mut cur: Option<&IpvsService> = None;
    let mut compared = 0;
    for line in text.lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.len() < 7 || !["TCP", "UDP", "FWM", "->"].contains(&t[0]) {
            continue;
        }
        let nums: Vec<u64> = t[2..7].iter().map(|n| n.parse().unwrap()).collect();
        let got = |s: system::Stats| [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes];
        match t[0] {
            "TCP" | "UDP" => {
                let label = format!("{}/{}", t[1], t[0].to_lowercase());
                let s = svc(&i, &label);
                assert_eq!(got(s.stats.unwrap()).as_slice(), nums, "{label}");
                cur = Some(s);
            }
            "FWM" => cur = Some(svc(&i, &format!("FWM {}", t[1]))),
            "->" => {
                let s = cur.unwrap();
                let d = s
                    .destinations
                    .iter()
                    .find(|d| {
                        let a = match d.address {
                            IpAddr::V4(a) => format!("{a}:{}", d.port),
                            IpAddr::V6(a) => format!("[{a}]:{}", d.port),
                        };
                        a == t[1]
                    })
                    .unwrap();
                assert_eq!(got(d.stats.unwrap()).as_slice(), nums, "{}", t[1]);
                compared += 1;
            }
            _ => {}
        }
    }
    assert_eq!(compared, 12);
    let nat = svc(&i, "192.0.2.100:80/tcp");
    assert_eq!(
        nat.stats.unwrap().conns,
        12,
        "the scenario made 12 connections"
    );
}

/// The decoders give exactly what `lvsdiag snapshot` wrote in the VM.
#[test]
fn decoding_the_recording_reproduces_the_snapshot() {
    let snap: HostSnapshot =
        serde_json::from_slice(&std::fs::read(dir("director").join("snapshot.json")).unwrap())
            .unwrap();
    assert_eq!(snap.ipvs.as_ref(), Some(&director_ipvs()));
    for host in ["director", "rs1"] {
        let snap: HostSnapshot =
            serde_json::from_slice(&std::fs::read(dir(host).join("snapshot.json")).unwrap())
                .unwrap();
        let d = rtnl::decode(&rtnl::Streams {
            links: bin(host, "rtnl-links"),
            addresses: bin(host, "rtnl-addresses"),
            routes: bin(host, "rtnl-routes"),
            neighbours: bin(host, "rtnl-neighbours"),
        })
        .unwrap();
        assert_eq!(d.links, snap.links, "{host}");
        assert_eq!(d.addresses, snap.addresses, "{host}");
        assert_eq!(d.routes, snap.routes, "{host}");
        assert_eq!(d.neighbours, snap.neighbours, "{host}");
    }
}

#[test]
fn rtnetlink_as_configured_on_a_real_server() {
    let d = rtnl::decode(&rtnl::Streams {
        links: bin("rs1", "rtnl-links"),
        addresses: bin("rs1", "rtnl-addresses"),
        routes: bin("rs1", "rtnl-routes"),
        neighbours: bin("rs1", "rtnl-neighbours"),
    })
    .unwrap();
    let eth0 = d.links.iter().find(|l| l.name == "eth0").unwrap();
    assert_eq!(eth0.mac.as_deref(), Some("02:00:00:00:11:00"));
    assert_eq!(eth0.kind.as_deref(), Some("veth"));
    assert_eq!(
        (eth0.state.as_str(), eth0.up, eth0.mtu),
        ("up", true, Some(1500))
    );
    let lo = d.links.iter().find(|l| l.name == "lo").unwrap();
    assert_eq!(lo.link_type, "loopback");
    let has = |ifname: &str, a: &str, p: u8| {
        d.addresses
            .iter()
            .any(|x| x.ifname == ifname && x.address == ip(a) && x.prefix_len == p)
    };
    assert!(has("lo", "192.0.2.100", 32), "rs1 has the VIP on lo");
    assert!(has("eth0", "198.51.100.11", 24));
    assert!(has("eth0", "2001:db8:1::11", 64));
    let def = |v6: bool| {
        d.routes
            .iter()
            .find(|r| r.table == "main" && r.prefix_len == 0 && r.dst.is_ipv6() == v6)
            .unwrap()
    };
    assert_eq!(def(false).gateway, Some(ip("198.51.100.1")));
    assert_eq!(def(false).dev.as_deref(), Some("eth0"));
    assert_eq!(def(true).gateway, Some(ip("2001:db8:1::1")));
    // rs1 has no IPVS services (the module is loaded, the table is empty).
    assert!(ipvs::decode_services(&bin("rs1", "ipvs-services"))
        .unwrap()
        .is_empty());
}

#[test]
fn decoders_reject_truncated_replies_without_panicking() {
    let s = bin("director", "ipvs-services");
    for cut in [1, 7, 16, 19, 20, 23, 40, 100, s.len() - 1] {
        assert!(
            ipvs::decode_services(&s[..cut]).is_err(),
            "a stream cut at {cut} must not decode"
        );
    }
    let mut bad = s.clone();
    // Corrupt the first attribute's length (after nlmsghdr 16 + genlmsghdr 4).
    bad[20] = 0xff;
    bad[21] = 0xff;
    assert!(ipvs::decode_services(&bad).is_err());
}

type Dest = (IpAddr, u16, String, i64, u32, u32);

/// The `/proc/net/ip_vs` fallback read at the same moment gives the same
/// services, real servers, methods, weights and connection counts.
#[test]
fn proc_fallback_agrees_with_netlink() {
    let text = std::fs::read_to_string(dir("director").join("proc-ip_vs.txt")).unwrap();
    let p = ipvs::from_proc(&text);
    assert_eq!(p.source, "proc");
    let shape = |i: &system::Ipvs| {
        let mut v: Vec<(String, Vec<Dest>)> = i
            .services
            .iter()
            .map(|s| {
                let mut d: Vec<_> = s
                    .destinations
                    .iter()
                    .map(|d| {
                        (
                            d.address,
                            d.port,
                            d.forward.to_string(),
                            d.weight,
                            d.active_conns,
                            d.inactive_conns,
                        )
                    })
                    .collect();
                d.sort();
                (s.label(), d)
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(shape(&p), shape(&director_ipvs()));
    assert_eq!(p.services.len(), 7);
}
