"""Client classes for Overcast's own resources, for tools built on the vspk SDK."""
