# udp-flow-pinned: LVS-DR UDP service without one-packet scheduling; one
# client socket (source port 5300) sends 30 requests, all scheduled to the
# real server its first one got; 10 more requests come from new ports.
udp_servers() { for _r in rs1 rs2 rs3; do udp_server_start $_r 53 $VIP; done; }
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2 rs3
step udp-servers udp_servers
step ipvs ipvs_dr_udp
step capture-start capture_start
step neigh-flush neigh_flush_all
step pinned udp_traffic 30 1 5300
step spread udp_traffic 10 5
step capture-stop capture_stop
step collect collect
