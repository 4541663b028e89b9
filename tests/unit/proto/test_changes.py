from __future__ import annotations

import pytest

from dockyard.proto.changes import InvalidChange, apply_changes


def test_cmd_json_and_shell_forms() -> None:
    assert apply_changes({}, ['CMD ["sh", "-c", "echo hi"]'])["Cmd"] == ["sh", "-c", "echo hi"]
    assert apply_changes({}, ["CMD echo $HOME hi"])["Cmd"] == ["/bin/sh", "-c", "echo $HOME hi"]
    # not valid JSON: shell form, as docker does
    assert apply_changes({}, ["CMD [sh]"])["Cmd"] == ["/bin/sh", "-c", "[sh]"]


def test_entrypoint_resets_inherited_cmd_only() -> None:
    base = {"Cmd": ["sh"]}
    assert apply_changes(base, ['ENTRYPOINT ["top"]'])["Cmd"] is None
    out = apply_changes(base, ['CMD ["-b"]', 'ENTRYPOINT ["top"]'])
    assert out["Cmd"] == ["-b"] and out["Entrypoint"] == ["top"]
    assert base == {"Cmd": ["sh"]}  # not mutated


def test_env_forms_and_expansion() -> None:
    out = apply_changes(
        {"Env": ["PATH=/bin"]},
        ["ENV PATH=/usr/bin:$PATH A=\"x y\" B='$A'", "ENV C ${A:-z} tail", "ENV D=${NOPE:-dflt}"],
    )
    assert out["Env"] == ["PATH=/usr/bin:/bin", "A=x y", "B=$A", "C=x y tail", "D=dflt"]


def test_label_expose_volume_user_workdir_stopsignal_onbuild() -> None:
    out = apply_changes(
        {},
        [
            'LABEL a=1 "b c"=2',
            "EXPOSE 80 53/udp 8000-8002",
            'VOLUME ["/data", "/logs"]',
            "VOLUME /x /y",
            "USER nobody",
            "WORKDIR /app",
            "WORKDIR sub",
            "STOPSIGNAL SIGINT",
            "ONBUILD RUN echo hi",
        ],
    )
    assert out["Labels"] == {"a": "1", "b c": "2"}
    assert set(out["ExposedPorts"]) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"}
    assert out["Volumes"] == {"/data": {}, "/logs": {}, "/x": {}, "/y": {}}
    assert out["User"] == "nobody"
    assert out["WorkingDir"] == "/app/sub"
    assert out["StopSignal"] == "SIGINT"
    assert out["OnBuild"] == ["RUN echo hi"]


def test_healthcheck() -> None:
    out = apply_changes({}, ["HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/"])
    assert out["Healthcheck"] == {
        "Test": ["CMD-SHELL", "curl -f http://x/"],
        "Interval": 5_000_000_000,
        "Retries": 3,
    }
    assert apply_changes({}, ["HEALTHCHECK NONE"])["Healthcheck"] == {"Test": ["NONE"]}
    assert apply_changes({}, ['HEALTHCHECK CMD ["true"]'])["Healthcheck"]["Test"] == ["CMD", "true"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("RUN echo", "run is not a valid change command"),
        ("FROM busybox", "from is not a valid change command"),
        ("EXPOSE 80/xyz", "invalid proto: xyz"),
        ("LABEL novalue", "LABEL must have two arguments"),
        ("USER", "USER requires exactly one argument"),
        ("HEALTHCHECK --interval=5x CMD true", 'time: unknown unit "x" in duration "5x"'),
        ("ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
    ],
)
def test_invalid(line: str, message: str) -> None:
    with pytest.raises(InvalidChange) as e:
        apply_changes({}, [line])
    assert e.value.message == message


def test_words_quotes_and_escapes() -> None:
    out = apply_changes({"Env": ["X=1"]}, [r"""LABEL a="b c" b='d $X' c=e\ f d="$X" """])
    assert out["Labels"] == {"a": "b c", "b": "d $X", "c": "e f", "d": "1"}


# What the --change engine did apart from the builder's before they became one
# (`dockerfile.config`). BuildFromConfig runs the builder's dispatchers; the
# answers were checked with `docker import --change` on dockerd 20.10, except the
# substitution forms (20.10's lexer refuses ${X-w}; buildkit's, ours, has them).


def test_env_replaces_a_variable_in_place() -> None:
    # the old --change engine moved a replaced variable to the end
    out = apply_changes({"Env": ["A=1", "B=1"]}, ["ENV A=2"])
    assert out["Env"] == ["A=2", "B=1"]


def test_words_expand_against_the_env_before_the_instruction() -> None:
    # (both engines did this; kept as dockerd's rule)
    out = apply_changes({"Env": ["A=1"]}, ["ENV A=2 B=$A"])
    assert out["Env"] == ["A=2", "B=1"]


def test_every_substitution_form_of_the_builders_lexer() -> None:
    # the old expander knew only ${X:-w} and ${X:+w}; ${X-w} read as a name
    out = apply_changes(
        {"Env": ["E="]}, ["LABEL a=${NOPE-d} b=${E-d} c=${E:-d} e=${NOPE+s} f=${E+s}"]
    )
    assert out["Labels"] == {"a": "d", "b": "", "c": "d", "e": "", "f": "s"}


def test_shell_form_runs_under_the_configs_shell() -> None:
    # the old engine always wrote /bin/sh -c
    out = apply_changes({"Shell": ["/bin/bash", "-xc"]}, ["CMD echo hi"])
    assert out["Cmd"] == ["/bin/bash", "-xc", "echo hi"]


def test_empty_entrypoint_is_unset() -> None:
    # the old engine stored []; the builder (and dockerd) store null
    assert apply_changes({"Entrypoint": ["x"]}, ["ENTRYPOINT"])["Entrypoint"] is None
