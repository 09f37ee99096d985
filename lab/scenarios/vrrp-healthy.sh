# vrrp-healthy: the real keepalived (VRRP only) on two directors, VRID 51,
# advert_int 1: director MASTER priority 150, director2 BACKUP priority 100;
# keepalived holds the VIP. Both have the same IPVS table (DR). Healthy.
WITH_DIRECTOR2=1
WITH_KEEPALIVED=1
dr_pair_setup
step capture-start capture_start
step neigh-flush neigh_flush_all
keepalived_pair_start
step settle sleep 4
step traffic traffic 24 8
step settle-after sleep 2
step capture-stop capture_stop
step collect collect
step keepalived-stop keepalived_stop_all
