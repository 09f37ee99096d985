# dr-failover-sync: as dr-failover-no-sync (two DR directors, identical
# tables for 192.0.2.100:9000, six long connections, the VIP moves to
# director2 2 s in), but with IPVS connection synchronisation: director runs
# the master sync daemon, director2 the backup (multicast on eth0, syncid 1),
# started before the traffic. director2 learns the long connections and
# forwards their later segments to the same real servers.
WITH_DIRECTOR2=1
echo_servers() { for _r in rs1 rs2 rs3; do tcp_echo_start $_r 9000; done; }
ipvs_9000() { ipvs_setup "$1" -g rr $VIP:9000 192.0.2.11:9000 192.0.2.12:9000 192.0.2.13:9000; }
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2 rs3
step echo-servers echo_servers
step ipvs-director ipvs_9000 director
step ipvs-director2 ipvs_9000 director2
step sync-master nsx director ipvsadm --start-daemon master --mcast-interface eth0 --syncid 1
step sync-backup nsx director2 ipvsadm --start-daemon backup --mcast-interface eth0 --syncid 1
step sync-daemons eval 'for _d in director director2; do echo "### $_d"; nsx $_d ipvsadm -L --daemon; done > "$OUT/ipvsadm-daemon.txt"'
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
