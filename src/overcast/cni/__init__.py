"""The CNI plugin (``overcast-cni``)."""
