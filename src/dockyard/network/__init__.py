"""Networking: IPAM, port specs, the firewall rule set, network namespaces, links, embedded DNS."""
