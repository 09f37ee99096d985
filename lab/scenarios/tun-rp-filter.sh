# tun-rp-filter: LVS-TUN, rs2 has strict rp_filter on all/tunl0: the
# decapsulated SYN (src 203.0.113.10) arrives on tunl0 but the route back to
# the client is via eth0, so rs2 drops it.
step topology topo_dr
step real-servers rs_tun_ok rs1 rs2 rs3
step rs2-rp-filter sysctl_ns rs2 net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.tunl0.rp_filter=1
step ipvs ipvs_tun
standard_run
