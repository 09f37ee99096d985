# udp-nat-rs-bypass: LVS-NAT UDP service; rs2's default route is the
# router's leg on the private segment instead of the director, so its
# answers reach the client from the RIP, never rewritten.
udp_servers() { for _r in rs1 rs2 rs3; do udp_server_start $_r 53; done; }
step topology topo_nat
step rs2-gw-router nsx rs2 ip route replace default via 198.51.100.254
step udp-servers udp_servers
step ipvs ipvs_nat_udp
udp_run
