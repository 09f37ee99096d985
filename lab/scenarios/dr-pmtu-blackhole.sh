# dr-pmtu-blackhole: LVS-DR, the router's client-side link (router eth0) has
# MTU 1400 while the client's eth0 has 1500 (it advertises MSS 1460). The
# real servers' full-size reply segments (1500 bytes, from the VIP) cannot
# pass the router, which sends ICMP fragmentation-needed (mtu 1400) to the
# VIP, i.e. to the director; the director's firewall drops ICMP
# destination-unreachable on input, so IPVS never relays it to the real
# server. Three 64 KB downloads (one per RS) stall.
big_files() { for _r in rs1 rs2 rs3; do head -c 65536 /dev/zero > /srv/$_r/big.bin; done; }
rs_no_gso() { for _r in rs1 rs2 rs3; do no_gso $_r eth0; done; }
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2 rs3
step big-files big_files
step rs-no-gso rs_no_gso
step ipvs ipvs_dr
step router-mtu nsx router ip link set dev eth0 mtu 1400
step director-firewall nft_drop_icmp_unreach director
step capture-start capture_start
step neigh-flush neigh_flush_all
CONN_TIMEOUT=8
step downloads download_traffic 3 3 http://$VIP/big.bin
step capture-stop capture_stop
step collect collect
