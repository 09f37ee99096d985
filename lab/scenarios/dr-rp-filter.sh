# dr-rp-filter: rs3 is multi-homed: eth1 198.51.100.13/24 on br-priv carries
# its default route (via the router's 198.51.100.254); strict rp_filter on
# all/eth0 makes it drop client SYNs that the director forwards to eth0.
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2 rs3
step priv-segment bridge_add br-priv
step router-eth2 plug router 2 br-priv 198.51.100.254/24
step rs3-eth1 plug rs3 1 br-priv 198.51.100.13/24
step rs3-default-via-eth1 nsx rs3 ip route replace default via 198.51.100.254 dev eth1
step rs3-rp-filter sysctl_ns rs3 net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1
step ipvs ipvs_dr
standard_run
