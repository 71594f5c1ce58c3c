"""Virtual machines, the pieces the agent needs (issue "Virtual machines as the VRS did them"):
:mod:`.dhcp` answers a VM's DHCP with the address the directory allocated (pure), and
:mod:`.responder` serves it on one interface inside a domain namespace."""
