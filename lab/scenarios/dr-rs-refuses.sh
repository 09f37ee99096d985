# dr-rs-refuses: rs1 is correctly configured for DR but nothing listens on :80.
step topology topo_dr
step real-servers rs_dr_ok rs1 rs2 rs3
step rs1-stop-httpd httpd_stop rs1
step ipvs ipvs_dr
standard_run
