# tun-pmtu-blackhole: LVS-TUN service 192.0.2.100:9000 (socat sinks on the
# real servers). Every link has MTU 1500, so the client's full-size segments
# (1500 bytes) do not fit into the director's IPIP tunnel (1480 + 20): the
# director answers ICMP fragmentation-needed (mtu 1480), which the client's
# firewall drops. Three 64 KB uploads (one per RS) stall.
sink_servers() { for _r in rs1 rs2 rs3; do tcp_sink_start $_r 9000; done; }
step topology topo_dr
step real-servers rs_tun_ok rs1 rs2 rs3
step sink-servers sink_servers
step ipvs ipvs_setup director -i rr $VIP:9000 192.0.2.11:9000 192.0.2.12:9000 192.0.2.13:9000
step client-no-gso no_gso client eth0
step client-firewall nft_drop_icmp_unreach client
step capture-start capture_start
step neigh-flush neigh_flush_all
CONN_TIMEOUT=8
step uploads upload_traffic 3 3 65536 9000
step capture-stop capture_stop
step collect collect
