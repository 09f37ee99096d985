# dr-arp-problem: rs2 brings the VIP up on eth0 (instead of lo) mid-capture
# and announces it with a gratuitous ARP; the router's neighbour entry for the
# VIP flips to rs2's MAC and client traffic bypasses the director. Then the
# router's entry is flushed, it re-ARPs and both director and rs2 answer.
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2 rs3
step ipvs ipvs_dr
step capture-start capture_start
step neigh-flush neigh_flush_all
step traffic-phase1-via-director traffic 8 4
step pause sleep 1.5
step rs2-vip-to-eth0 nsx rs2 ip addr del $VIP/32 dev lo
step rs2-vip-on-eth0 nsx rs2 ip addr add $VIP/32 dev eth0
step rs2-garp garp rs2 eth0 $VIP 1
step traffic-phase2-bypass traffic 8 4
step router-reresolve-vip nsx router ip neigh del $VIP dev eth1
step traffic-phase3-two-owners traffic 8 4
step capture-stop capture_stop
step collect collect
