"""Virtual machines, the pieces the agent needs (issue "Virtual machines as the VRS did them"):
:mod:`.metadata` reads a VM's Nuage profile from libvirt's XML (pure), :mod:`.dhcp` answers a
VM's DHCP with the address the directory allocated (pure), and :mod:`.responder` serves it on
the endpoint ports of a domain namespace."""
