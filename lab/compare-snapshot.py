#!/usr/bin/env python3
"""Compares `lvsdiag snapshot` JSON with what ipvsadm, ip, sysctl, netstat
and nft say.

Usage: lab/compare-snapshot.py RESULT_DIR
RESULT_DIR is a lab result of the snapshot-agree scenario: snapshot/<host>.json
and reference/<host>/{ip-d-addr,ip-route,ip-6-route,sysctl,netstat-ltn}.txt
and nft.json, plus
reference/director/ipvsadm-*.txt. Prints every disagreement; exit 1 if any.
"""
import ipaddress
import json
import os
import re
import sys

root = sys.argv[1]
errors = []
checked = {"ipvs services": 0, "ipvs dests": 0, "links": 0, "addresses": 0, "routes": 0, "sysctls": 0,
           "listeners": 0, "nft rules": 0}


def err(msg):
    errors.append(msg)


def read(*p):
    with open(os.path.join(root, *p)) as f:
        return f.read()


def svc_key_from_ipvsadm(prot, addr):
    if prot == "FWM":
        return "fwmark %d" % int(addr, 0)
    return "%s/%s" % (addr, prot.lower())


def label(s):
    if s.get("fwmark") is not None:
        return "fwmark %d" % s["fwmark"]
    a = s["address"]
    a = "[%s]" % a if ":" in a else a
    return "%s:%d/%s" % (a, s["port"], s["protocol"])


def dest_key(d):
    a = d["address"]
    a = "[%s]" % a if ":" in a else a
    return "%s:%d" % (a, d["port"])


def parse_ipvsadm_table(text):
    """{service key: (service fields, {dest key: dest fields})} from an ipvsadm -Ln listing."""
    out = {}
    cur = None
    for line in text.splitlines():
        t = line.split()
        if not t or t[0] in ("IP", "Prot") or line.strip().startswith("-> RemoteAddress"):
            continue
        if t[0] == "->":
            out[cur][1][t[1]] = t[2:]
        elif t[0] in ("TCP", "UDP", "SCTP", "FWM"):
            cur = svc_key_from_ipvsadm(t[0], t[1])
            out[cur] = (t[2:], {})
    return out


# ------------------------------------------------------------------ IPVS
snap = {}
for f in sorted(os.listdir(os.path.join(root, "snapshot"))):
    if f.endswith(".json"):
        s = json.loads(read("snapshot", f))
        snap[s["host"]] = s

d = snap.get("director")
if d is None or not d.get("ipvs"):
    err("director snapshot has no IPVS")
else:
    ipvs = d["ipvs"]
    if ipvs["source"] != "netlink":
        err("director IPVS source is %r, not netlink" % ipvs["source"])
    svcs = {label(s): s for s in ipvs["services"]}
    ln = parse_ipvsadm_table(read("reference", "director", "ipvsadm-Ln.txt"))
    stats = parse_ipvsadm_table(read("reference", "director", "ipvsadm-stats.txt"))
    thr = parse_ipvsadm_table(read("reference", "director", "ipvsadm-thresholds.txt"))
    per = parse_ipvsadm_table(read("reference", "director", "ipvsadm-persistent.txt"))
    if set(ln) != set(svcs):
        err("services: ipvsadm %s, snapshot %s" % (sorted(ln), sorted(svcs)))
    fwd_names = {"Masq": "masq", "Route": "route", "Tunnel": "tunnel", "Local": "local"}
    for key, (sf, dests) in ln.items():
        s = svcs.get(key)
        if s is None:
            continue
        checked["ipvs services"] += 1
        if s["scheduler"] != sf[0]:
            err("%s scheduler: ipvsadm %s, snapshot %s" % (key, sf[0], s["scheduler"]))
        flags = sf[1:]
        if "persistent" in flags:
            t = int(flags[flags.index("persistent") + 1])
            if not s["persistent"] or s["timeout"] != t:
                err("%s persistent %d, snapshot %s/%s" % (key, t, s["persistent"], s["timeout"]))
        elif s["persistent"]:
            err("%s: snapshot says persistent, ipvsadm does not" % key)
        if "mask" in flags:
            m = flags[flags.index("mask") + 1]
            plen = ipaddress.ip_network("0.0.0.0/%s" % m).prefixlen if "." in m else int(m)
            if s["netmask"] != plen:
                err("%s netmask %s (/%d), snapshot %s" % (key, m, plen, s["netmask"]))
        sd = {dest_key(x): x for x in s["destinations"]}
        if set(sd) != set(dests):
            err("%s dests: ipvsadm %s, snapshot %s" % (key, sorted(dests), sorted(sd)))
        for dk, df in dests.items():
            x = sd.get(dk)
            if x is None:
                continue
            checked["ipvs dests"] += 1
            want = (fwd_names.get(df[0], df[0]), int(df[1]), int(df[2]), int(df[3]))
            got = (x["forward"], x["weight"], x["active_conns"], x["inactive_conns"])
            if want != got:
                err("%s %s forward/weight/active/inactive: ipvsadm %s, snapshot %s" % (key, dk, want, got))
            st = stats[key][1][dk]
            want = tuple(int(v) for v in st[:5])
            got = tuple(x["stats"][k] for k in ("conns", "inpkts", "outpkts", "inbytes", "outbytes"))
            if want != got:
                err("%s %s stats: ipvsadm %s, snapshot %s" % (key, dk, want, got))
            t = thr[key][1][dk]
            if (int(t[0]), int(t[1])) != (x["u_threshold"], x["l_threshold"]):
                err("%s %s thresholds: ipvsadm %s, snapshot %s/%s" % (key, dk, t[:2], x["u_threshold"], x["l_threshold"]))
            p = per[key][1][dk]
            if int(p[1]) != x["persistent_conns"]:
                err("%s %s persistent conns: ipvsadm %s, snapshot %s" % (key, dk, p[1], x["persistent_conns"]))
        want = tuple(int(v) for v in stats[key][0][:5])
        got = tuple(s["stats"][k] for k in ("conns", "inpkts", "outpkts", "inbytes", "outbytes"))
        if want != got:
            err("%s stats: ipvsadm %s, snapshot %s" % (key, want, got))
    m = re.search(r"Timeout \(tcp tcpfin udp\): (\d+) (\d+) (\d+)", read("reference", "director", "ipvsadm-timeout.txt"))
    t = ipvs.get("timeouts") or {}
    if not m or (int(m[1]), int(m[2]), int(m[3])) != (t.get("tcp"), t.get("tcp_fin"), t.get("udp")):
        err("timeouts: ipvsadm %s, snapshot %s" % (m and m.groups(), t))
    daemons = []
    for line in read("reference", "director", "ipvsadm-daemon.txt").splitlines():
        m = re.match(r"(master|backup) sync daemon \(mcast=([^,]+), syncid=(\d+)", line)
        if m:
            daemons.append((m[1], m[2], int(m[3])))
    got = sorted((x["state"], x["interface"], x["sync_id"]) for x in ipvs["daemons"])
    if sorted(daemons) != got:
        err("sync daemons: ipvsadm %s, snapshot %s" % (daemons, got))
    if not daemons:
        err("the scenario starts a sync daemon; ipvsadm shows none")
    if not any(s.get("fwmark") for s in ipvs["services"]):
        err("no fwmark service in the snapshot")
    if not any(":" in (s.get("address") or "") for s in ipvs["services"]):
        err("no IPv6 service in the snapshot")

# ------------------------------------------------------------------ ip, sysctl
for host, s in sorted(snap.items()):
    ref = os.path.join(root, "reference", host)
    if not os.path.isdir(ref):
        err("%s: no reference" % host)
        continue
    # ip -d addr
    links, addrs, cur = {}, set(), None
    lines = read("reference", host, "ip-d-addr.txt").splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"\d+: ([^:@]+)(@[^:]+)?: <[^>]*> (.*)", line)
        if m:
            cur = m[1]
            rest = m[3].split()
            info = {"mtu": int(rest[rest.index("mtu") + 1]), "state": rest[rest.index("state") + 1].lower()}
            links[cur] = info
            continue
        t = line.split()
        if not t or cur is None:
            continue
        if t[0].startswith("link/"):
            links[cur]["mac"] = t[1] if t[0] in ("link/ether", "link/loopback") else None
            nxt = lines[i + 1].split() if i + 1 < len(lines) else []
            links[cur]["next"] = nxt[0] if nxt else ""
        elif t[0] in ("inet", "inet6"):
            a = t[1]
            if "/" not in a:
                a += "/32" if t[0] == "inet" else "/128"
            addrs.add((cur, a))
    sl = {l["name"]: l for l in s["links"]}
    if set(sl) != set(links):
        err("%s links: ip %s, snapshot %s" % (host, sorted(links), sorted(sl)))
    for n, info in links.items():
        l = sl.get(n)
        if l is None:
            continue
        checked["links"] += 1
        if l["mtu"] != info["mtu"] or l["state"] != info["state"]:
            err("%s %s mtu/state: ip %s/%s, snapshot %s/%s" % (host, n, info["mtu"], info["state"], l["mtu"], l["state"]))
        if info.get("mac") and l["mac"] != info["mac"]:
            err("%s %s mac: ip %s, snapshot %s" % (host, n, info["mac"], l["mac"]))
        if l.get("kind") and info.get("next") != l["kind"]:
            err("%s %s kind: ip -d shows %r, snapshot %s" % (host, n, info.get("next"), l["kind"]))
    got = {(a["ifname"], "%s/%d" % (a["address"], a["prefix_len"])) for a in s["addresses"]}
    if got != addrs:
        err("%s addresses: only ip %s; only snapshot %s" % (host, sorted(addrs - got), sorted(got - addrs)))
    checked["addresses"] += len(addrs & got)
    # ip route, ip -6 route (main table)
    types = {"unreachable", "blackhole", "prohibit", "local", "broadcast", "multicast", "anycast", "throw", "nat"}
    want = set()
    for fname, v6 in (("ip-route.txt", False), ("ip-6-route.txt", True)):
        for line in read("reference", host, fname).splitlines():
            t = line.split()
            if not t or t[0] in types:
                continue
            dst = t[0]
            if dst == "default":
                dst = "::/0" if v6 else "0.0.0.0/0"
            elif "/" not in dst:
                dst += "/128" if v6 else "/32"
            via = t[t.index("via") + 1] if "via" in t else None
            dev = t[t.index("dev") + 1] if "dev" in t else None
            want.add((str(ipaddress.ip_network(dst, strict=False)), via, dev))
    got = {
        ("%s/%d" % (r["dst"], r["prefix_len"]), r.get("gateway"), r.get("dev"))
        for r in s["routes"]
        if r["table"] == "main" and r["kind"] == "unicast"
    }
    got = {(str(ipaddress.ip_network(a, strict=False)), g, dv) for a, g, dv in got}
    if got != want:
        err("%s routes: only ip %s; only snapshot %s" % (host, sorted(want - got), sorted(got - want)))
    checked["routes"] += len(want & got)
    # sysctl -a
    ref_sys = {}
    for line in read("reference", host, "sysctl.txt").splitlines():
        if " = " in line:
            k, v = line.split(" = ", 1)
            ref_sys[k.strip()] = " ".join(v.split())
    for k, v in s["sysctls"].items():
        if k not in ref_sys:
            err("%s sysctl %s: not in sysctl -a" % (host, k))
        elif ref_sys[k] != " ".join(v.split()):
            err("%s sysctl %s: sysctl %r, snapshot %r" % (host, k, ref_sys[k], v))
        else:
            checked["sysctls"] += 1

    # busybox netstat -ltn (TCP listeners)
    want = set()
    for line in read("reference", host, "netstat-ltn.txt").splitlines():
        t = line.split()
        if len(t) >= 6 and t[0] in ("tcp", "tcp6") and t[5] == "LISTEN":
            a, port = t[3].rsplit(":", 1)
            want.add((str(ipaddress.ip_address(a.strip("[]"))), int(port)))
    got = {(str(ipaddress.ip_address(l["address"])), l["port"]) for l in s.get("listeners") or []}
    if s.get("listeners") is None:
        err("%s: no listeners in the snapshot" % host)
    elif got != want:
        err("%s listeners: only netstat %s; only snapshot %s" % (host, sorted(want - got), sorted(got - want)))
    checked["listeners"] += len(want & got)
    # nft -j list ruleset
    ref_nft = json.loads(read("reference", host, "nft.json") or '{"nftables": []}')
    if s.get("nftables") != ref_nft:
        err("%s nftables: nft -j %s, snapshot %s" % (host, json.dumps(ref_nft)[:300], json.dumps(s.get("nftables"))[:300]))
    else:
        checked["nft rules"] += sum(1 for i in ref_nft["nftables"] if "rule" in i)

# ------------------------------------------------------------------ unprivileged
up = os.path.join(root, "unprivileged")
if not os.path.isdir(up):
    err("no unprivileged/ results")
else:
    u = json.loads(read("unprivileged", "director.json"))
    ui = u.get("ipvs") or {}
    if ui.get("source") != "proc":
        err("unprivileged director snapshot: IPVS source %r, expected proc" % ui.get("source"))
    if not any("CAP_NET_ADMIN" in w for w in u.get("warnings", [])):
        err("unprivileged director snapshot does not say it lacks CAP_NET_ADMIN: %s" % u.get("warnings"))
    errtxt = read("unprivileged", "director.err")
    if "CAP_NET_ADMIN" not in errtxt:
        err("unprivileged snapshot: no warning on stderr: %r" % errtxt)
    if d and d.get("ipvs"):
        def shape(i):
            return sorted((label(s), tuple(sorted((dest_key(x), x["forward"], x["weight"]) for x in s["destinations"])))
                          for s in i["services"])
        if shape(ui) != shape(d["ipvs"]):
            err("proc fallback services differ from netlink: %s vs %s" % (shape(ui), shape(d["ipvs"])))
        else:
            checked["proc fallback services"] = len(ui["services"])
    rc = read("unprivileged", "netns.rc").strip()
    ne = read("unprivileged", "netns.err")
    if rc != "2" or len(ne.splitlines()) != 1 or "CAP_SYS_ADMIN" not in ne:
        err("--netns without CAP_SYS_ADMIN: exit %s, stderr %r (want exit 2, one line naming CAP_SYS_ADMIN)" % (rc, ne))

for e in errors:
    print("MISMATCH", e)
print("compared: " + ", ".join("%d %s" % (n, k) for k, n in checked.items()))
for k, n in checked.items():
    if n == 0:
        print("MISMATCH nothing compared for %s" % k)
        errors.append(k)
sys.exit(1 if errors else 0)
