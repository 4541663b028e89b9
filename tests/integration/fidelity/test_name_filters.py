"""Name filters are regular expressions (issue 12.5), as dockerd's `filters.Match`:
`docker ps -f name=^web$`, and the same in `network ls` and `volume ls`."""

from __future__ import annotations

import uuid

from tests.conftest import Daemon


def _lines(text: str) -> list[str]:
    return sorted(text.split())


def test_ps_name_filter_is_a_regular_expression(engine: Daemon) -> None:
    base = f"fidweb{uuid.uuid4().hex[:6]}"
    names = [base, f"{base}-2", f"x{base}"]
    for n in names:
        engine.docker("create", "--name", n, "--network", "none", "busybox", check=True)
    try:

        def ps(flt: str) -> list[str]:
            r = engine.docker("ps", "-a", "-f", f"name={flt}", "--format", "{{.Names}}",
                              check=True)  # fmt: skip
            return _lines(r.stdout)

        assert ps(f"^{base}$") == [base]
        assert ps(f"^/{base}$") == [base]  # the name with its slash matches too
        assert ps(f"^{base}") == sorted([base, f"{base}-2"])
        assert ps(base) == sorted(names)  # unanchored: a substring still matches
        assert ps(f"{base}-[0-9]$") == [f"{base}-2"]
    finally:
        engine.docker("rm", "-f", *names)


def test_network_and_volume_name_filters_are_regular_expressions(engine: Daemon) -> None:
    base = f"fidnet{uuid.uuid4().hex[:6]}"
    nets = [base, f"{base}-2"]
    for n in nets:
        engine.docker("network", "create", "--internal", n, check=True)
    vols = [base, f"{base}-2"]
    for v in vols:
        engine.docker("volume", "create", v, check=True)
    try:
        r = engine.docker("network", "ls", "-f", f"name=^{base}$", "--format", "{{.Name}}",
                          check=True)  # fmt: skip
        assert _lines(r.stdout) == [base]
        r = engine.docker("network", "ls", "-f", f"name={base}-[0-9]", "--format", "{{.Name}}",
                          check=True)  # fmt: skip
        assert _lines(r.stdout) == [f"{base}-2"]
        r = engine.docker("volume", "ls", "-q", "-f", f"name=^{base}$", check=True)
        assert _lines(r.stdout) == [base]
        r = engine.docker("volume", "ls", "-q", "-f", f"name={base}.*2$", check=True)
        assert _lines(r.stdout) == [f"{base}-2"]
    finally:
        engine.docker("network", "rm", *nets)
        engine.docker("volume", "rm", *vols)
