# dr-director-failover: keepalived-style master/backup pair. director owns the
# VIP; mid-capture it drops it, director2 adds it and sends gratuitous ARPs.
# Both have identical IPVS tables. A clean failover, not a conflict.
WITH_DIRECTOR2=1
dr_pair_setup
step capture-start capture_start
step neigh-flush neigh_flush_all
step traffic-before traffic 12 6
step pause sleep 1.5
step failover-director-release nsx director ip addr del $VIP/32 dev eth0
step failover-director2-takeover nsx director2 ip addr add $VIP/32 dev eth0
step failover-garp garp director2 eth0 $VIP 3
step traffic-after traffic 12 6
step capture-stop capture_stop
step collect collect
