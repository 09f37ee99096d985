# vrrp-failover: as vrrp-healthy, then mid-capture keepalived on director
# stops (SIGTERM: it sends a priority-0 advert and removes the VIP);
# director2 takes over at once and sends gratuitous ARPs. A clean failover.
WITH_DIRECTOR2=1
WITH_KEEPALIVED=1
dr_pair_setup
step capture-start capture_start
step neigh-flush neigh_flush_all
keepalived_pair_start
step settle sleep 3
step traffic-before traffic 12 6
step failover keepalived_stop director
step director2-master keepalived_wait_master director2 10
step settle-failover sleep 2
step traffic-after traffic 12 6
step settle-after sleep 2
step capture-stop capture_stop
step collect collect
step keepalived-stop keepalived_stop_all
