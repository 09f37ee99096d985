# snapshot-agree: not a fault. A director with many kinds of IPVS services
# (NAT, DR and TUN; IPv4 and IPv6; TCP and UDP; a persistent fwmark service
# with thresholds and a weight-0 real server; non-default timeouts; a sync
# daemon), some NAT traffic so the counters move, then `lvsdiag snapshot` of
# every namespace next to what ipvsadm, ip and sysctl say (reference/).
# lab/check-snapshot compares the two. Needs LVSDIAG_BIN.
IPV6=1
step need-lvsdiag command -v lvsdiag
step topology topo_nat
v6() {
	sysctl_ns director net.ipv6.conf.all.forwarding=1
	nsx director ip -6 addr add $VIP6/128 dev eth0 nodad
	nsx director ip -6 addr add 2001:db8:1::1/64 dev eth1 nodad
	for _n in 1 2 3; do
		nsx rs$_n ip -6 addr add 2001:db8:1::1$_n/64 dev eth0 nodad
		nsx rs$_n ip -6 route add default via 2001:db8:1::1
	done
}
step ipv6 v6
step rs-dr-vip rs_dr_ok rs1
step ipvs-nat ipvs_nat
ipvs_more() {
	d() { nsx director ipvsadm "$@"; }
	# DR IPv4 (port 443), TUN IPv4
	d -A -t 192.0.2.101:443 -s wrr
	d -a -t 192.0.2.101:443 -r 198.51.100.11:443 -g -w 3
	d -a -t 192.0.2.101:443 -r 198.51.100.12:443 -g -w 1
	d -A -t 192.0.2.102:80 -s mh
	d -a -t 192.0.2.102:80 -r 198.51.100.13:80 -i -w 1
	# IPv6 NAT and DR
	d -A -t "[$VIP6]:80" -s rr
	d -a -t "[$VIP6]:80" -r "[2001:db8:1::11]:80" -m -w 1
	d -a -t "[$VIP6]:80" -r "[2001:db8:1::12]:80" -m -w 2
	d -A -t "[2001:db8::101]:443" -s sh -p 300
	d -a -t "[2001:db8::101]:443" -r "[2001:db8:1::13]:443" -g -w 1
	# UDP
	d -A -u 192.0.2.100:53 -s sh
	d -a -u 192.0.2.100:53 -r 198.51.100.11:53 -m -w 1
	# persistent fwmark service: netmask, thresholds, a weight-0 real server
	d -A -f 1 -s wrr -p 120 -M 255.255.255.0
	d -a -f 1 -r 198.51.100.11 -g -w 2 -x 100 -y 10
	d -a -f 1 -r 198.51.100.12 -g -w 0
	d --set 900 120 300
	d --start-daemon master --mcast-interface eth1 --syncid 7
}
step ipvs-more ipvs_more
# A firewall on rs2 that leaves the services alone (the snapshot's nftables
# must equal nft's own listing), and a listener bound to one address.
step rs2-nft nsx rs2 nft -f - <<'NFT'
table inet filter {
	set blocked { type ipv4_addr; elements = { 203.0.113.99 } }
	chain input {
		type filter hook input priority 0; policy accept;
		ct state established,related accept
		iifname "lo" accept
		ip saddr @blocked drop
		tcp dport { 22, 8000-8999 } reject
	}
}
NFT
step rs3-listener nsx rs3 busybox httpd -p 198.51.100.13:8081 -h /srv/rs3
step traffic traffic 12 6
step settle sleep 2.5
step snapshot lvsdiag snapshot --all-netns --out "$OUT/snapshot" --record "$OUT/netlink"
reference() {
	for _h in $HOSTS; do
		_d="$OUT/reference/$_h"
		mkdir -p "$_d"
		nsx "$_h" ip -d addr > "$_d/ip-d-addr.txt"
		nsx "$_h" ip route > "$_d/ip-route.txt"
		nsx "$_h" ip -6 route > "$_d/ip-6-route.txt"
		nsx "$_h" sysctl -a > "$_d/sysctl.txt" 2>/dev/null || true
		nsx "$_h" busybox netstat -ltn > "$_d/netstat-ltn.txt"
		nsx "$_h" nft -j list ruleset > "$_d/nft.json"
	done
	_d="$OUT/reference/director"
	nsx director ipvsadm -Ln --stats --exact > "$_d/ipvsadm-stats.txt"
	nsx director ipvsadm -Ln > "$_d/ipvsadm-Ln.txt"
	nsx director ipvsadm -Ln --thresholds > "$_d/ipvsadm-thresholds.txt"
	nsx director ipvsadm -Ln --persistent-conn > "$_d/ipvsadm-persistent.txt"
	nsx director ipvsadm -Ln --timeout > "$_d/ipvsadm-timeout.txt"
	nsx director ipvsadm -Ln --daemon > "$_d/ipvsadm-daemon.txt"
	nsx director ipvsadm -S -n > "$_d/ipvsadm-S.txt"
	nsx director cat /proc/net/ip_vs > "$_d/proc-ip_vs.txt"
}
step reference reference
# Without privileges: in the director's namespace as nobody (no
# CAP_NET_ADMIN) IPVS comes from /proc/net/ip_vs, with a warning; entering a
# namespace as nobody (no CAP_SYS_ADMIN) is one line and exit 2.
unprivileged() {
	mkdir -p "$OUT/unprivileged"
	nsx director su -s /bin/sh nobody -c "lvsdiag snapshot" \
		> "$OUT/unprivileged/director.json" 2> "$OUT/unprivileged/director.err"
	if su -s /bin/sh nobody -c "lvsdiag snapshot --netns director" \
		> /dev/null 2> "$OUT/unprivileged/netns.err"; then
		echo "lvsdiag snapshot --netns as nobody did not fail"
		return 1
	else
		echo $? > "$OUT/unprivileged/netns.rc"
	fi
}
step unprivileged unprivileged
