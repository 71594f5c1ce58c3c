"""Models of the kernel parts the Linux driver programs (pure, no privileges): the memory
dataplane runs the driver's own plans and nftables scripts through them."""
