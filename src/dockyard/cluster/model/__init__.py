"""Docker's swarm objects (Swarm, Node, Service, Task, Secret, Config) as its API has
them, field for field (objects), and their home in the cluster store (repo)."""
