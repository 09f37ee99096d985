# dr-two-vips: LVS-DR with two VIPs, 192.0.2.100:80 and 192.0.2.101:80, both
# on the director's eth0 and both services rr over rs1..rs3. Every RS has
# 192.0.2.100/32 on lo, but rs3 lacks 192.0.2.101: it drops the frames the
# director forwards to it for the second VIP.
VIP2=192.0.2.101
vip2_on() { for _r in "$@"; do nsx "$_r" ip addr add $VIP2/32 dev lo; done; }
step topology topo_dr
step director-vip2 nsx director ip addr add $VIP2/32 dev eth0
step real-servers rs_dr_ok rs1 rs2 rs3
step vip2-rs1-rs2 vip2_on rs1 rs2
step ipvs ipvs_dr
step ipvs-vip2 ipvs_setup director -g rr $VIP2:80 192.0.2.11:80 192.0.2.12:80 192.0.2.13:80
step capture-start capture_start
step neigh-flush neigh_flush_all
step traffic-vip traffic 24 8 client http://$VIP/
step traffic-vip2 traffic 24 8 client http://$VIP2/
step capture-stop capture_stop
step collect collect
