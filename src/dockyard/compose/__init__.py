"""The Compose Specification: `docker compose` / `dockyard compose` in Python.

load (interpolate, include, extends, merge, normalise, validate: `loader`) → a frozen
`model.Project` → a `plan` (what to create, recreate, remove, in dependency order) →
actions through `dockyard.client` (`engine`). Nothing here reaches into the daemon,
so it drives any Docker-compatible Engine API.
"""
