"""Overcast: policy-driven network virtualization for containers and VMs."""

__version__ = "0.1.0"
