"""The Linux dataplane driver: namespaces, bridges, VXLAN, veths (pyroute2) and nftables."""
