# dr-rs-removed-long: as dr-rs-removed (LVS-DR service 192.0.2.100:9000,
# socat echo servers, expire_nodest_conn=0), but the service carries only
# long-lived connections: six (two per RS), rs3 deleted (ipvsadm -d) 2 s in,
# and no new connection at all after the removal. The director keeps rs3's
# connection entries and silently drops their packets.
echo_servers() { for _r in rs1 rs2 rs3; do tcp_echo_start $_r 9000; done; }
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2 rs3
step echo-servers echo_servers
step ipvs ipvs_setup director -g rr $VIP:9000 192.0.2.11:9000 192.0.2.12:9000 192.0.2.13:9000
step expire-nodest-default eval '[ "$(nsx director cat /proc/sys/net/ipv4/vs/expire_nodest_conn)" = 0 ]'
step capture-start capture_start
step neigh-flush neigh_flush_all
LONG_IDLE=5 LONG_TAIL=4
step long-start long_start 6
step pause sleep 1.4
step remove-rs3 nsx director ipvsadm -d -t $VIP:9000 -r 192.0.2.13:9000
step conn-after-removal eval 'nsx director ipvsadm -Lnc > "$OUT/ipvsadm-conn-after-removal.txt"'
step long-wait long_wait
step capture-stop capture_stop
step collect collect
