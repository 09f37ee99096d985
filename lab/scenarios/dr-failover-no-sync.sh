# dr-failover-no-sync: two DR directors with identical IPVS tables
# (192.0.2.100:9000 -> rs1..rs3:9000, socat echo servers), no connection
# synchronisation. Six long connections start via director; 2 s later the VIP
# moves to director2 (as in dr-director-failover). New connections work via
# director2, but the long connections' later segments reach director2, which
# has no entry for them: its own stack (it now holds the VIP) resets them.
WITH_DIRECTOR2=1
echo_servers() { for _r in rs1 rs2 rs3; do tcp_echo_start $_r 9000; done; }
ipvs_9000() { ipvs_setup "$1" -g rr $VIP:9000 192.0.2.11:9000 192.0.2.12:9000 192.0.2.13:9000; }
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2 rs3
step echo-servers echo_servers
step ipvs-director ipvs_9000 director
step ipvs-director2 ipvs_9000 director2
step capture-start capture_start
step neigh-flush neigh_flush_all
LONG_IDLE=6 LONG_TAIL=2
step long-start long_start 6
step pause sleep 1.4
step failover-director-release nsx director ip addr del $VIP/32 dev eth0
step failover-director2-takeover nsx director2 ip addr add $VIP/32 dev eth0
step failover-garp garp director2 eth0 $VIP 3
step conn-director2 eval 'nsx director2 ipvsadm -Lnc > "$OUT/ipvsadm-conn-director2-after-failover.txt"'
step traffic-after tcp_traffic 6 6
step long-wait long_wait
step capture-stop capture_stop
step collect collect
