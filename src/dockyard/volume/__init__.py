"""Volumes: the mount specs of a container (pure parsing) and the local volume driver."""
