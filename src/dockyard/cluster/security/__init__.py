"""The swarm's security: its certificate authority (pki), the store's users and roles
(rbac), the join service that hands a joining node its certificate (join), and the
encryption of secrets at rest with autolock (keys)."""
