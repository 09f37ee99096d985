# dr-idle-timeout: LVS-DR service 192.0.2.100:9000 (socat echo servers);
# the director's IPVS timeouts are 5 s (ipvsadm --set 5 5 5). Six long
# connections send a line, idle 9 s, send again: by then IPVS has expired
# their entries, and the director's own stack (it holds the VIP) resets them.
echo_servers() { for _r in rs1 rs2 rs3; do tcp_echo_start $_r 9000; done; }
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2 rs3
step echo-servers echo_servers
step ipvs ipvs_setup director -g rr $VIP:9000 192.0.2.11:9000 192.0.2.12:9000 192.0.2.13:9000
step ipvs-timeouts nsx director ipvsadm --set 5 5 5
step ipvs-timeouts-show eval 'nsx director ipvsadm -L --timeout > "$OUT/ipvsadm-timeout.txt"'
step capture-start capture_start
step neigh-flush neigh_flush_all
LONG_IDLE=9 LONG_TAIL=2
step long-start long_start 6
step long-wait long_wait
step capture-stop capture_stop
step collect collect
