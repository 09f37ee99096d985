# udp-dr-rs-no-vip: LVS-DR UDP service; rs3 has the ARP sysctls but no VIP
# on lo, so it drops the datagrams the director forwards to it.
udp_servers() {
	udp_server_start rs1 53 $VIP
	udp_server_start rs2 53 $VIP
	udp_server_start rs3 53
}
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2
step rs3-without-vip rs_arp_sysctls rs3
step udp-servers udp_servers
step ipvs ipvs_dr_udp
udp_run
