# nat6-rs-bypass: nat6-healthy, but rs2's default route is the router's leg
# on the private segment (2001:db8:1::254) instead of the director, so its
# replies skip the un-NAT and reach the client from the RIP.
IPV6=1
step topology topo_nat6
step rs2-gw-router nsx rs2 ip -6 route replace default via 2001:db8:1::254
step ipvs ipvs_nat6
step capture-start capture_start
step neigh-flush neigh_flush_all
step traffic traffic 24 8 client "http://[$VIP6]/"
step capture-stop capture_stop
step collect collect
