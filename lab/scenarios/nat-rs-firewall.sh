# nat-rs-firewall: LVS-NAT; rs3 has an nftables rule dropping TCP/80 input,
# so DNATed SYNs to it get no reply at all.
step topology topo_nat
step rs3-firewall nsx rs3 nft -f - <<'NFT'
table inet filter {
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 80 drop
	}
}
NFT
step ipvs ipvs_nat
standard_run
