"""The Docker network and IPAM plugin (``overcast docker-plugin``)."""
