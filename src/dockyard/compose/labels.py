"""The labels Compose v2 puts on what it creates, and the config hash that drives recreation.

Containers, networks and volumes carry `com.docker.compose.*` labels so any compose
(v2, v1, ours) recognises a project: `project`, `service`, `container-number`,
`oneoff`, `config-hash`, `depends_on`, `image`, `project.working_dir`,
`project.config_files`, `version`; networks and volumes their `network`/`volume` key.
The config hash (`confighash`) is Compose v2's, so `up` recreates only the services
whose configuration changed, and not those real Compose v2 made.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.compose.model import Project, Service

PREFIX = "com.docker.compose."
PROJECT = PREFIX + "project"
SERVICE = PREFIX + "service"
NUMBER = PREFIX + "container-number"
ONEOFF = PREFIX + "oneoff"
HASH = PREFIX + "config-hash"
DEPENDS_ON = PREFIX + "depends_on"
IMAGE = PREFIX + "image"
WORKING_DIR = PREFIX + "project.working_dir"
CONFIG_FILES = PREFIX + "project.config_files"
ENV_FILE = PREFIX + "project.environment_file"
VERSION_LABEL = PREFIX + "version"
NETWORK = PREFIX + "network"
VOLUME = PREFIX + "volume"
SLUG = PREFIX + "slug"
REPLACE = PREFIX + "replace"

# The Compose v2 release whose behaviour this implementation follows, marked as ours.
VERSION = "2.30.0-dockyard"


def config_hash(service: Service, container_id: Callable[[str], str] | None = None) -> str:
    """Compose v2's hash; `container_id(service)` names the containers the service
    refers to (network_mode, volumes_from), as v2 resolves them before hashing."""
    from dockyard.compose.confighash import service_hash

    return service_hash(service.config, container_id)


def project_labels(project: Project) -> dict[str, str]:
    return {
        PROJECT: project.name,
        WORKING_DIR: project.working_dir,
        CONFIG_FILES: ",".join(project.config_files),
        VERSION_LABEL: VERSION,
    }


def container_labels(
    project: Project, service: Service, number: int, oneoff: bool, image_id: str = "",
    container_id: Callable[[str], str] | None = None,
) -> dict[str, str]:  # fmt: skip
    labels = {str(k): str(v) for k, v in (service.config.get("labels") or {}).items()}
    labels.update(project_labels(project))
    labels.update({
        SERVICE: service.name,
        NUMBER: str(number),
        ONEOFF: "True" if oneoff else "False",
        HASH: config_hash(service, container_id),
        DEPENDS_ON: ",".join(
            f"{d}:{s.get('condition', 'service_started')}:{str(bool(s.get('restart'))).lower()}"
            for d, s in service.depends_on.items()
        ),
    })  # fmt: skip
    if image_id:
        labels[IMAGE] = image_id
    return labels


def project_filter(project_name: str, **extra: str | bool) -> str:
    """The Engine API `filters` value selecting a project's objects."""
    labels = [f"{PROJECT}={project_name}"]
    for key, value in extra.items():
        labels.append(f"{PREFIX}{key.replace('_', '-')}={value}")
    return json.dumps({"label": labels})
