"""The field orders of compose-go's types (2.4), which Go writes in declaration order.

`config` prints a service's attributes in this order, as `docker compose config`
does, and the config hash marshals them in it, as Compose v2's `ServiceHash` does.
Keys not listed follow, sorted; extensions (x-*) come last.
"""

from __future__ import annotations

SERVICE_ORDER = """profiles annotations attach build develop blkio_config cap_add cap_drop
cgroup_parent cgroup cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime
cpus cpuset cpu_shares command configs container_name credential_spec depends_on deploy
device_cgroup_rules devices dns dns_opt dns_search dockerfile domainname entrypoint provider
environment env_file expose extends external_links extra_hosts group_add gpus hostname
healthcheck image init ipc isolation labels label_file links logging log_driver log_opt
mem_limit mem_reservation memswap_limit mem_swappiness mac_address models net network_mode
networks oom_kill_disable oom_score_adj pid pids_limit platform ports privileged pull_policy
read_only restart runtime scale secrets security_opt shm_size stdin_open stop_grace_period
stop_signal storage_opt sysctls tmpfs tty ulimits use_api_socket user userns_mode uts
volume_driver volumes volumes_from working_dir post_start pre_stop""".split()
ORDERS = {
    "port": "name mode host_ip target published protocol app_protocol".split(),
    "mount": "type source target read_only consistency bind volume tmpfs image".split(),
    "depends_on": "condition restart required".split(),
    "build": """context dockerfile dockerfile_inline entitlements args ssh labels cache_from
        cache_to no_cache additional_contexts network pull target shm_size extra_hosts
        isolation privileged secrets tags ulimits platforms""".split(),
    "healthcheck": "test timeout interval retries start_period start_interval disable".split(),
    "network": """name driver driver_opts ipam external internal attachable labels
        enable_ipv4 enable_ipv6""".split(),
    "volume": "name driver driver_opts external labels".split(),
    "file": "name file environment content external labels driver driver_opts".split(),
    "file_ref": "source target uid gid mode".split(),
}
