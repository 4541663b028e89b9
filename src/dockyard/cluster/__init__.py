"""Swarm mode: the cluster's state in etcd (store/), Docker's objects (model/), the elected
orchestrator and scheduler, and the agent every node runs. Nothing here imports daemon/:
the daemon wires these parts together and implements the agent's container protocol."""
