"""The corpus: compose files whose normalised model (what `config` prints) was written
by hand from the Compose Specification's text (interpolation.md, merge.md, extends.md,
include.md, profiles.md, fragments.md, env-file rules), and malformed files with the
error each must report (naming the file, the service and the key)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dockyard.compose import loader, output
from dockyard.compose.errors import ComposeError

CORPUS = Path(__file__).parent / "corpus"
ENV = {"REGISTRY": "registry.local", "EMPTY": "", "SHARED": "from-os", "FROM_OS": "from-os"}
CASE_ENV = {"profiles": {"COMPOSE_PROFILES": "debug"}}


def _load(case: Path) -> object:
    opts = loader.Options(cwd=str(case), environ={**ENV, **CASE_ENV.get(case.name, {})})
    return loader.load(opts)


def _cases(kind: str) -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir() if (p / kind).exists())


@pytest.mark.parametrize("name", _cases("expected.yaml"))
def test_normalised_model(name: str) -> None:
    case = CORPUS / name
    expected = yaml.safe_load((case / "expected.yaml").read_text().replace("{dir}", str(case)))
    doc = output.document(_load(case))
    assert doc == expected


@pytest.mark.parametrize("name", _cases("error.txt"))
def test_malformed(name: str) -> None:
    case = CORPUS / name
    message = (case / "error.txt").read_text().strip().replace("{dir}", str(case))
    with pytest.raises(ComposeError) as e:
        _load(case)
    assert message in str(e.value)


def test_yaml_output_reads_as_v2_prints_it() -> None:
    """Port and mount attributes in compose-go's order, numbers-as-strings quoted,
    sequences indented under their key, literal dollars escaped."""
    text = output.escape_dollars(output.to_yaml(output.document(_load(CORPUS / "merge"))))
    assert (
        "    ports:\n"
        "      - mode: ingress\n"
        "        target: 80\n"
        '        published: "8080"\n'
        "        protocol: tcp\n"
    ) in text
    assert "      - type: volume\n        source: data\n        target: /data\n" in text
    assert text.startswith("name: merge\nservices:\n  extra:\n")
    literal = output.escape_dollars(
        output.to_yaml(output.document(_load(CORPUS / "interpolation")))
    )
    assert "LITERAL: $$HOME and $${REGISTRY}" in literal
    reloaded = yaml.safe_load(literal)
    assert reloaded["services"]["app"]["environment"]["LITERAL"] == "$$HOME and $${REGISTRY}"


def test_project_name_precedence(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("name: fromfile\nservices:\n  a:\n    image: a\n")
    base = {"cwd": str(tmp_path), "environ": {}}
    assert loader.load(loader.Options(**base)).name == "fromfile"
    env = {"COMPOSE_PROJECT_NAME": "fromenv"}
    assert loader.load(loader.Options(cwd=str(tmp_path), environ=env)).name == "fromenv"
    assert loader.load(loader.Options(project_name="flag", **base)).name == "flag"
    with pytest.raises(ComposeError, match='invalid project name "Bad Name"'):
        loader.load(loader.Options(project_name="Bad Name", **base))


def test_files_found_upwards_with_override(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: a\n")
    (tmp_path / "compose.override.yaml").write_text("services:\n  a:\n    image: b\n")
    sub = tmp_path / "deep" / "er"
    sub.mkdir(parents=True)
    project = loader.load(loader.Options(cwd=str(sub), environ={}))
    assert project.services["a"].image == "b"
    assert project.working_dir == str(tmp_path)
    assert project.config_files == (
        str(tmp_path / "compose.yaml"),
        str(tmp_path / "compose.override.yaml"),
    )


def test_selected_service_enables_its_profile(tmp_path: Path) -> None:
    opts = loader.Options(cwd=str(CORPUS / "profiles"), environ={}, selected=("tools",))
    project = loader.load(opts)
    assert sorted(project.services) == ["app", "tools"]
    assert sorted(project.disabled) == ["debug"]
