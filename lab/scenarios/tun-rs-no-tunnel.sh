# tun-rs-no-tunnel: LVS-TUN as tun-healthy, but rs2's tunl0 stays down (no
# IP-in-IP device up to take the director's encapsulated packets); its VIP
# is on lo instead, with the ARP sysctls set. rs2's kernel answers each
# IPIP packet with ICMP port unreachable (tunnel4_rcv), which the director
# relays to the client from the VIP (ip_vs_in_icmp): refused at once.
# rs2's eth0 has a 20 ms netem delay: without any latency the relayed ICMP
# would reach the client while its connect() still holds the socket lock
# and be dropped (the SYN retransmission's ICMP would refuse it 1 s later).
rs2_vip_lo() {
	rs_vip_lo rs2
	rs_arp_sysctls rs2
	sysctl_ns rs2 net.ipv4.conf.all.rp_filter=0
}
tunl0_down() { ! nsx rs2 ip -o link show tunl0 | grep -q '[<,]UP[,>]'; }
step topology topo_dr
step real-servers rs_tun_ok rs1 rs3
step rs2-vip-on-lo rs2_vip_lo
step rs2-tunl0-down tunl0_down
step rs2-latency netem_delay rs2 eth0 20
step ipvs ipvs_tun
standard_run
