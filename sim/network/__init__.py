"""How requests travel: settlement nodes, links, the protocol, faults, background."""
