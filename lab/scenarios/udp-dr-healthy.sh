# udp-dr-healthy: LVS-DR for a UDP service (VIP:53, rr); three correctly
# configured real servers, each answering from the VIP (socat bound to it).
udp_servers() { for _r in rs1 rs2 rs3; do udp_server_start $_r 53 $VIP; done; }
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2 rs3
step udp-servers udp_servers
step ipvs ipvs_dr_udp
udp_run
