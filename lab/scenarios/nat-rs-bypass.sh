# nat-rs-bypass: rs2's default route is the router's leg on the private segment
# (198.51.100.254) instead of the director, so its replies skip the un-NAT.
step topology topo_nat
step rs2-gw-router nsx rs2 ip route replace default via 198.51.100.254
step ipvs ipvs_nat
standard_run
