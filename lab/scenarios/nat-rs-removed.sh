# nat-rs-removed: dr-rs-removed in LVS-NAT. Service 192.0.2.100:9000 -> socat
# echo servers on 198.51.100.11-13:9000 (-m). Six long connections (two per
# RS); 2 s in, rs3 is deleted from the service (ipvsadm -d) while
# net.ipv4.vs.expire_nodest_conn is 0: the director keeps rs3's connection
# entries and silently drops their packets. New short connections go to
# rs1/rs2.
echo_servers() { for _r in rs1 rs2 rs3; do tcp_echo_start $_r 9000; done; }
step topology topo_nat
step echo-servers echo_servers
step ipvs ipvs_setup director -m rr $VIP:9000 198.51.100.11:9000 198.51.100.12:9000 198.51.100.13:9000
step expire-nodest-default eval '[ "$(nsx director cat /proc/sys/net/ipv4/vs/expire_nodest_conn)" = 0 ]'
step capture-start capture_start
step neigh-flush neigh_flush_all
LONG_IDLE=5 LONG_TAIL=4
step long-start long_start 6
step pause sleep 1.4
step remove-rs3 nsx director ipvsadm -d -t $VIP:9000 -r 198.51.100.13:9000
step conn-after-removal eval 'nsx director ipvsadm -Lnc > "$OUT/ipvsadm-conn-after-removal.txt"'
step traffic-after tcp_traffic 6 6
step long-wait long_wait
step capture-stop capture_stop
step collect collect
