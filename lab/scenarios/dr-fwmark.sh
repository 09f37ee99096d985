# dr-fwmark: LVS-DR firewall-mark service. The director's nftables marks TCP
# to the VIP on ports 80 and 443 with mark 1; `ipvsadm -A -f 1` balances
# both over three correctly configured real servers (httpd on 80 and 443).
fwmark_setup() {
	nsx director nft add table ip mangle
	nsx director nft add chain ip mangle pre '{ type filter hook prerouting priority -150; }'
	nsx director nft add rule ip mangle pre ip daddr $VIP tcp dport '{ 80, 443 }' meta mark set 1
	nsx director ipvsadm -A -f 1 -s rr
	for _r in 11 12 13; do nsx director ipvsadm -a -f 1 -r 192.0.2.$_r -g -w 1; done
}
https443() { for _r in rs1 rs2 rs3; do httpd_start $_r 443; done; }
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2 rs3
step httpd-443 https443
step fwmark fwmark_setup
step capture-start capture_start
step neigh-flush neigh_flush_all
step traffic-80 traffic 12 6
step traffic-443 traffic 12 6 client "http://$VIP:443/"
step capture-stop capture_stop
step collect collect
