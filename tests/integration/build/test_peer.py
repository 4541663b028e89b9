"""Differential test: the same Dockerfiles built by dockyardd and by a peer
dockerd's legacy builder (Debian's docker.io), comparing image configs,
history (created_by, layer count) and the files the images hold. Skipped
when dockerd is not installed. COPY/ADD content hashes differ by design
(dockerd's tarsum vs our checksum) and are masked."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import Daemon
from tests.integration.build.conftest import docker_at as _docker

FILES = {
    "a.txt": "hello\n",
    "b.txt": "bee\n",
    "d/x": "x\n",
    "d/sub/y": "y\n",
    "skip.log": "ignored\n",
    ".dockerignore": "*.log\n",
}

# (name, Dockerfile, probe command run in the result, extra build args)
CASES = [
    (
        "env-forms",
        'FROM busybox\nENV A=1 B="two words"\nENV C $A-c\nENV D=${A:+set} E=${NOPE:-dflt}\n',
        "env | grep -v HOSTNAME | sort",
        [],
    ),
    ("arg-default", "FROM busybox\nARG V=1\nRUN echo $V > /v\n", "cat /v", []),
    ("arg-override", "FROM busybox\nARG V=1\nRUN echo $V > /v\n", "cat /v", ["--build-arg", "V=9"]),
    ("arg-global", "ARG T=latest\nFROM busybox:$T\nARG T\nRUN echo $T > /t\n", "cat /t", []),
    (
        "env-beats-arg",
        "FROM busybox\nARG X=arg\nENV X=env\nRUN echo $X > /x\n",
        "cat /x",
        ["--build-arg", "X=cli"],
    ),
    ("workdir", "FROM busybox\nWORKDIR /a\nWORKDIR b\nWORKDIR ../c\nRUN pwd > /p\n", "cat /p", []),
    ("workdir-env", "FROM busybox\nENV D=/data\nWORKDIR $D/x\nRUN pwd > /p\n", "cat /p", []),
    ("copy-file", "FROM busybox\nCOPY a.txt /dst\n", "ls -ln /dst", []),
    ("copy-into-dir", "FROM busybox\nCOPY a.txt /dst/\n", "ls -lnR /dst", []),
    ("copy-dir-contents", "FROM busybox\nCOPY d /dst\n", "ls -lnR /dst", []),
    ("copy-multi", "FROM busybox\nCOPY a.txt b.txt /m/\n", "ls -lnR /m", []),
    ("copy-glob", "FROM busybox\nCOPY *.txt /g/\n", "ls -lnR /g", []),
    ("copy-glob-class", "FROM busybox\nCOPY [ab].txt /g/\n", "ls -lnR /g", []),
    ("copy-relative", "FROM busybox\nWORKDIR /w\nCOPY a.txt rel\n", "ls -lnR /w", []),
    ("copy-chown", "FROM busybox\nCOPY --chown=12:34 d /o\n", "ls -lnR /o", []),
    ("copy-ignored", "FROM busybox\nCOPY . /ctx\n", "ls -a /ctx", []),
    ("copy-json", 'FROM busybox\nCOPY ["a.txt", "/j s"]\n', "ls -ln '/j s'", []),
    ("cmd-shell", "FROM busybox\nCMD echo hi\n", "true", []),
    ("cmd-entrypoint", 'FROM busybox\nCMD ["a"]\nENTRYPOINT ["b"]\n', "true", []),
    ("entrypoint-resets-cmd", 'FROM busybox\nENTRYPOINT ["b"]\n', "true", []),
    (
        "shell-honoured",
        'FROM busybox\nSHELL ["/bin/sh", "-xc"]\nRUN echo a > /s\nCMD b\n',
        "cat /s",
        [],
    ),
    ("run-exec", 'FROM busybox\nRUN ["sh", "-c", "echo e > /e"]\n', "cat /e", []),
    ("run-empty-layer", "FROM busybox\nRUN true\nRUN echo x > /x\n", "cat /x", []),
    ("run-delete", "FROM busybox\nRUN rm -rf /etc/group /home\n", "ls /etc | grep -v mtab", []),
    (
        "label-expose-volume",
        'FROM busybox\nLABEL a=b "c d"=e\nEXPOSE 80 53/udp 1000-1001\nVOLUME /v /w\n',
        "true",
        [],
    ),
    ("user-stopsignal", "FROM busybox\nUSER nobody:nogroup\nSTOPSIGNAL SIGUSR1\n", "true", []),
    (
        "healthcheck",
        'FROM busybox\nHEALTHCHECK --interval=5s --timeout=2s --retries=3 CMD ["true"]\n',
        "true",
        [],
    ),
    ("healthcheck-none", "FROM busybox\nHEALTHCHECK NONE\n", "true", []),
    ("onbuild-maintainer", "FROM busybox\nMAINTAINER someone\nONBUILD RUN echo hi\n", "true", []),
    ("escape-backtick", "# escape=`\nFROM busybox\nRUN echo a `\n  b > /e\n", "cat /e", []),
    (
        "continuation-comments",
        "FROM busybox\nRUN echo a \\\n# inner comment\n  b > /c\n",
        "cat /c",
        [],
    ),
    (
        "multistage",
        "FROM busybox AS b\nRUN echo built > /out\nFROM busybox\nCOPY --from=b /out /in\n",
        "cat /in",
        [],
    ),
    (
        "stage-index",
        "FROM busybox\nRUN echo zero > /z\nFROM busybox\nCOPY --from=0 /z /z\n",
        "cat /z",
        [],
    ),
    ("add-tar", "FROM busybox\nADD ctx.tar.gz /t/\n", "ls -lnR /t", []),
    ("add-plain-tar", "FROM busybox\nADD plain.tar /p/\n", "ls -lnR /p", []),
    # a symlink source is followed inside the context; the copy keeps the link's name
    ("copy-symlink-file", "FROM busybox\nCOPY link /s/\nCOPY link /t\n",
     "ls -lnR /s /t; cat /s/link /t", []),
    ("copy-symlink-dir", "FROM busybox\nCOPY dlink /c/\n", "ls -lnR /c", []),
    ("copy-symlink-climbing", "FROM busybox\nCOPY uplink /u/\n", "ls -lnR /u; cat /u/*", []),
    ("copy-glob-symlink", "FROM busybox\nCOPY lin* /g/\n", "ls -lnR /g", []),
    # a destination through a link to nothing: the missing directories are made in the rootfs
    ("copy-through-dangling-links",
     "FROM busybox\nRUN ln -s /nonexistent/deep /dst && ln -s ../nowhere/x /rel\n"
     "COPY a.txt /dst/\nCOPY d /rel/\n", "ls -lnR /nonexistent /nowhere; ls -ln /dst /rel", []),
    # proxy args reach RUN, kept out of history unless declared ('|0' when only they came)
    ("proxy-args", "FROM busybox\nRUN env | grep -v HOSTNAME | sort > /e\n", "cat /e",
     ["--build-arg", "HTTP_PROXY=http://p:1", "--build-arg", "no_proxy=x",
      "--build-arg", "ftp_proxy"]),
    ("proxy-arg-declared",
     "FROM busybox\nARG HTTP_PROXY\nARG Z=1\nRUN env | grep -v HOSTNAME | sort > /e\n",
     "cat /e", ["--build-arg", "HTTP_PROXY=http://p:1", "--build-arg", "https_proxy=y"]),
    # (ALL_PROXY/all_proxy are passed too, as moby since 23.0; the 20.10 peer does not)
    # every --add-host reaches RUN's /etc/hosts
    ("add-hosts", "FROM busybox\nRUN grep h[12] /etc/hosts > /h\n", "cat /h",
     ["--add-host", "h1:10.1.1.1", "--add-host", "h2:10.2.2.2"]),
]  # fmt: skip

# Dockerfiles both builders refuse: the step's error line must be the same
ERROR_CASES = [
    ("copy-dotdot", "FROM busybox\nCOPY ../a.txt /x\n"),
    ("copy-dotdot-inner", "FROM busybox\nCOPY d/../../a.txt /x\n"),
    ("copy-dot-slash-dotdot", "FROM busybox\nCOPY ./../a.txt /x\n"),
    ("add-dotdot", "FROM busybox\nADD ../a.txt /x\n"),
    ("copy-symlink-to-nothing", "FROM busybox\nCOPY abslink /x\n"),
    ("run-mount", "FROM busybox\nRUN --mount=type=cache,target=/x echo hi\n"),
]

PROBE_IMAGE_KEYS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts",
                    "Volumes", "StopSignal", "Healthcheck", "OnBuild", "Shell")  # fmt: skip


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import tarfile

    ctx = tmp_path_factory.mktemp("peerctx")
    for name, text in FILES.items():
        p = ctx / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        os.utime(p, (1_600_000_000, 1_600_000_000))
    with tarfile.open(ctx / "ctx.tar.gz", "w:gz") as tf:
        tf.add(ctx / "d", arcname="d")
    with tarfile.open(ctx / "plain.tar", "w") as tf:  # not compressed: ustar magic at 257
        tf.add(ctx / "d", arcname="pd")
    os.symlink("a.txt", ctx / "link")
    os.symlink("d", ctx / "dlink")
    os.symlink("../../../b.txt", ctx / "uplink")  # leads to b.txt inside the context
    os.symlink("/etc/hostname", ctx / "abslink")  # leads to nothing in the context
    return ctx


def _result(host: str, ctx: Path, name: str, dockerfile: str, probe: str, extra: list[str]) -> dict:
    (ctx / f"Dockerfile.{name}").write_text(dockerfile)
    tag = f"peercase-{name}"
    r = _docker(host, "build", "-f", str(ctx / f"Dockerfile.{name}"), "-t", tag, *extra, str(ctx))
    assert r.returncode == 0, f"{host}: {r.stdout}\n{r.stderr}"
    info = json.loads(_docker(host, "image", "inspect", tag).stdout)[0]
    cfg = {k: info["Config"].get(k) or None for k in PROBE_IMAGE_KEYS}
    hist = json.loads(
        "["
        + ",".join(
            _docker(host, "history", "--no-trunc", "--format", "{{json .}}", tag).stdout.split(
                "\n"
            )[:-1]
        )
        + "]"
    )
    created = [re.sub(r"(file|dir|multi):[0-9a-f]{64}", r"\1:HASH", h["CreatedBy"]) for h in hist]
    run = _docker(host, "run", "--rm", "--network", "none", "--entrypoint", "sh", tag, "-c", probe)
    _docker(host, "rmi", tag)
    return {
        "config": cfg,
        "history": created,
        "layers": len(info["RootFS"]["Layers"]),
        "probe": (run.returncode, re.sub(r"\w{3} +\d+ +[\d:]+ ", "DATE ", run.stdout)),
    }


@pytest.mark.parametrize(("name", "dockerfile", "probe", "extra"), CASES, ids=[c[0] for c in CASES])
def test_same_as_dockerd(
    daemon: Daemon,
    peer_busybox: str,
    context: Path,
    name: str,
    dockerfile: str,
    probe: str,
    extra: list[str],
) -> None:
    ours = _result(daemon.host, context, name, dockerfile, probe, extra)
    theirs = _result(peer_busybox, context, name, dockerfile, probe, extra)
    assert ours == theirs


def _error_line(host: str, ctx: Path, name: str, dockerfile: str) -> str:
    (ctx / f"Dockerfile.{name}").write_text(dockerfile)
    r = _docker(host, "build", "-f", str(ctx / f"Dockerfile.{name}"), str(ctx))
    assert r.returncode != 0, r.stdout
    return [x for x in (r.stdout + r.stderr).splitlines() if x.strip()][-1]


@pytest.mark.parametrize(("name", "dockerfile"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_same_error_as_dockerd(
    daemon: Daemon, peer_busybox: str, context: Path, name: str, dockerfile: str
) -> None:
    ours = _error_line(daemon.host, context, name, dockerfile)
    theirs = _error_line(peer_busybox, context, name, dockerfile)
    assert ours == theirs
