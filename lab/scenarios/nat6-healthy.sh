# nat6-healthy: LVS-NAT over IPv6 (2001:db8::/32 only). VIP 2001:db8::100 on
# the director's eth0, real servers 2001:db8:1::11-13 on the private segment
# behind the director (default via 2001:db8:1::1, IPv6 forwarding on).
IPV6=1
step topology topo_nat6
step ipvs ipvs_nat6
step capture-start capture_start
step neigh-flush neigh_flush_all
step traffic traffic 24 8 client "http://[$VIP6]/"
step capture-stop capture_stop
step collect collect
