//! The sysctls that decide how a director or real server treats LVS traffic,
//! read from `/proc/sys` (which follows the reading thread's namespace).

use std::collections::BTreeMap;
use std::path::Path;

/// Per-interface IPv4 settings read for `all`, `default` and every interface.
pub const CONF_KEYS: &[&str] = &[
    "arp_ignore",
    "arp_announce",
    "rp_filter",
    "accept_local",
    "proxy_arp",
    "forwarding",
];

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join("\t"))
}

/// Reads the LVS-relevant sysctls below `root` (normally `/proc/sys`), keyed
/// by their `sysctl` names. Missing files are left out.
pub fn read_all(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |key: String, rel: &str| {
        if let Some(v) = read(&root.join(rel)) {
            out.insert(key, v);
        }
    };
    put("net.ipv4.ip_forward".into(), "net/ipv4/ip_forward");
    put(
        "net.ipv6.conf.all.forwarding".into(),
        "net/ipv6/conf/all/forwarding",
    );
    for i in super::dir_names(&root.join("net/ipv4/conf")).unwrap_or_default() {
        for k in CONF_KEYS {
            // sysctl writes a '.' in an interface name as '/'.
            let shown = i.replace('.', "/");
            put(
                format!("net.ipv4.conf.{shown}.{k}"),
                &format!("net/ipv4/conf/{i}/{k}"),
            );
        }
    }
    for k in super::dir_names(&root.join("net/ipv4/vs")).unwrap_or_default() {
        put(format!("net.ipv4.vs.{k}"), &format!("net/ipv4/vs/{k}"));
    }
    // The connection tracker a masquerading director (kube-proxy) needs.
    for k in [
        "nf_conntrack_count",
        "nf_conntrack_max",
        "nf_conntrack_udp_timeout",
        "nf_conntrack_udp_timeout_stream",
        "nf_conntrack_tcp_timeout_time_wait",
    ] {
        put(format!("net.netfilter.{k}"), &format!("net/netfilter/{k}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_proc_sys_tree_with_sysctl_names() {
        let root = std::env::temp_dir().join(format!("lvsdiag-sysctl-{}", std::process::id()));
        let w = |rel: &str, v: &str| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, v).unwrap();
        };
        w("net/ipv4/ip_forward", "1\n");
        w("net/ipv4/conf/all/arp_ignore", "1\n");
        w("net/ipv4/conf/eth0.100/rp_filter", "2\n");
        w("net/ipv4/vs/conntrack", "0\n");
        w("net/ipv4/vs/sync_ports", "1\n");
        w("net/ipv4/vs/sync_qlen_max", "1 2\n");
        let s = read_all(&root);
        assert_eq!(s["net.ipv4.ip_forward"], "1");
        assert_eq!(s["net.ipv4.conf.all.arp_ignore"], "1");
        assert_eq!(s["net.ipv4.conf.eth0/100.rp_filter"], "2");
        assert_eq!(s["net.ipv4.vs.conntrack"], "0");
        assert_eq!(s["net.ipv4.vs.sync_qlen_max"], "1\t2");
        assert!(!s.contains_key("net.ipv4.conf.all.rp_filter"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
