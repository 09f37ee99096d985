# dr-ipv6: LVS-DR over IPv6 (2001:db8::/32 only), VIP 2001:db8::100 on the
# director's eth0 and on lo of each RS; NDP instead of ARP.
IPV6=1
step topology topo_dr6
step ipvs ipvs_setup director -g rr "[$VIP6]:80" "[2001:db8::11]:80" "[2001:db8::12]:80" "[2001:db8::13]:80"
step capture-start capture_start
step neigh-flush neigh_flush_all
step traffic traffic 24 6 client "http://[$VIP6]/"
step capture-stop capture_stop
step collect collect
