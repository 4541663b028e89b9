"""The Dockerfile parser, the word lexer and .dockerignore matching, on a corpus."""

from __future__ import annotations

import pytest

from dockyard.builder.copy import match
from dockyard.dockerfile.dockerignore import Matcher
from dockyard.dockerfile.parser import DockerfileError, parse
from dockyard.dockerfile.shell import ShellError, expand_heredoc, process_word, process_words
from dockyard.dockerfile.stages import expand, split_stages

ENV = {"A": "a", "E": "", "P": "/usr/bin"}

WORDS = [
    ("$A", "a"),
    ("${A}", "a"),
    ("x${A}y", "xay"),
    ("${U:-d}", "d"),
    ("${E:-d}", "d"),
    ("${E-d}", ""),
    ("${U-d}", "d"),
    ("${A:+s}", "s"),
    ("${E:+s}", ""),
    ("${E+s}", "s"),
    ("${U+s}", ""),
    ("\\$A", "$A"),
    ("'$A'", "$A"),
    ('"$A b"', "a b"),
    ('"\\$A"', "$A"),
    ("${U:-${A}x}", "ax"),
    ("$U", ""),
    ("a\\ b", "a b"),
    ("$", "$"),
    ("$1", ""),
    ("${P}:/x", "/usr/bin:/x"),
]


@pytest.mark.parametrize(("word", "want"), WORDS)
def test_process_word(word: str, want: str) -> None:
    assert process_word(word, ENV) == want


def test_process_word_backtick_escape() -> None:
    assert process_word("`$A", ENV, "`") == "$A"
    assert process_word("c:\\dir", ENV, "`") == "c:\\dir"


def test_process_words_and_errors() -> None:
    assert process_words('a "b c" $A', ENV) == ["a", "b c", "a"]
    with pytest.raises(ShellError):
        process_word("'open", ENV)
    with pytest.raises(ShellError):
        process_word("${U:?must be set}", ENV)
    assert expand_heredoc("say \"$A\" '${A}'", ENV) == "say \"a\" 'a'"


def _one(text: str):
    return parse(text).instructions


CASES = [
    ("FROM busybox\nRUN echo hi", [("FROM", ["busybox"]), ("RUN", ["echo hi"])]),
    ("from busybox\nrun echo hi", [("FROM", ["busybox"]), ("RUN", ["echo hi"])]),
    ('FROM b\nCMD ["a", "b"]', [("FROM", ["b"]), ("CMD", ["a", "b"])]),
    ("FROM b\nCMD [\"a\", 'b']", [("FROM", ["b"]), ("CMD", ["[\"a\", 'b']"])]),
    ("FROM b\nCMD [a]", [("FROM", ["b"]), ("CMD", ["[a]"])]),
    ("FROM b\nRUN a \\\n  b", [("FROM", ["b"]), ("RUN", ["a   b"])]),
    ("FROM b\nRUN a \\  \n b", [("FROM", ["b"]), ("RUN", ["a  b"])]),
    ("FROM b\nRUN a \\\n# c\n b", [("FROM", ["b"]), ("RUN", ["a  b"])]),
    ("FROM b\nRUN a \\\n\n b", [("FROM", ["b"]), ("RUN", ["a  b"])]),
    ("# escape=`\nFROM b\nRUN a `\n b", [("FROM", ["b"]), ("RUN", ["a  b"])]),
    ("# escape=`\nFROM b\nRUN dir c:\\", [("FROM", ["b"]), ("RUN", ["dir c:\\"])]),
    ('FROM b\nENV A=1 B="x y"', [("FROM", ["b"]), ("ENV", ["A", "1", "B", '"x y"'])]),
    ("FROM b\nENV A x y", [("FROM", ["b"]), ("ENV", ["A", "x y"])]),
    ("FROM b\nLABEL a=b c=d", [("FROM", ["b"]), ("LABEL", ["a", "b", "c", "d"])]),
    ("FROM b\nCOPY a b /c/", [("FROM", ["b"]), ("COPY", ["a", "b", "/c/"])]),
    ('FROM b\nCOPY ["a b", "/c"]', [("FROM", ["b"]), ("COPY", ["a b", "/c"])]),
    ("FROM b AS x", [("FROM", ["b", "AS", "x"])]),
    ("ARG V=1\nFROM b:$V", [("ARG", ["V=1"]), ("FROM", ["b:$V"])]),
    ("FROM b\nEXPOSE 80 443/udp", [("FROM", ["b"]), ("EXPOSE", ["80", "443/udp"])]),
    ("FROM b\nUSER 1:2", [("FROM", ["b"]), ("USER", ["1:2"])]),
    ("FROM b\nWORKDIR /a b", [("FROM", ["b"]), ("WORKDIR", ["/a b"])]),
    ("FROM b\nVOLUME /a /b", [("FROM", ["b"]), ("VOLUME", ["/a", "/b"])]),
    ('FROM b\nVOLUME ["/a"]', [("FROM", ["b"]), ("VOLUME", ["/a"])]),
    ("FROM b\nSTOPSIGNAL SIGKILL", [("FROM", ["b"]), ("STOPSIGNAL", ["SIGKILL"])]),
    ('FROM b\nSHELL ["/bin/bash", "-c"]', [("FROM", ["b"]), ("SHELL", ["/bin/bash", "-c"])]),
    ("FROM b\nMAINTAINER me <m@x>", [("FROM", ["b"]), ("MAINTAINER", ["me <m@x>"])]),
    ("FROM b\nHEALTHCHECK NONE", [("FROM", ["b"]), ("HEALTHCHECK", ["NONE"])]),
    (
        "FROM b\nHEALTHCHECK --interval=5s CMD true",
        [("FROM", ["b"]), ("HEALTHCHECK", ["CMD", "true"])],
    ),
    ('FROM b\nHEALTHCHECK CMD ["t"]', [("FROM", ["b"]), ("HEALTHCHECK", ["CMD", "t"])]),
    ("FROM b\nONBUILD RUN x", [("FROM", ["b"]), ("ONBUILD", ["RUN x"])]),
    ("  # lead\n\nFROM b\n   RUN x  ", [("FROM", ["b"]), ("RUN", ["x"])]),
    ("FROM b\r\nRUN x\r\n", [("FROM", ["b"]), ("RUN", ["x"])]),
    ("# syntax=docker/dockerfile:1\n# check=skip=all\nFROM b", [("FROM", ["b"])]),
    ("FROM b\nARG A B=2", [("FROM", ["b"]), ("ARG", ["A", "B=2"])]),
    ("FROM b\nENTRYPOINT", [("FROM", ["b"]), ("ENTRYPOINT", [])]),
]


@pytest.mark.parametrize(("text", "want"), CASES)
def test_parse_corpus(text: str, want: list[tuple[str, list[str]]]) -> None:
    got = [(i.cmd, i.args) for i in _one(text)]
    assert got == want


ERRORS = [
    ("FROM b\nRUNN x", "dockerfile parse error on line 2: unknown instruction: RUNN"),
    ("FROM b\n\nfoo", "dockerfile parse error on line 3: unknown instruction: foo"),
    ("# escape=x\nFROM b", "invalid escape token 'x' does not match ` or \\"),
    ("FROM b\nENV A", "dockerfile parse error on line 2: ENV must have two arguments"),
    ("FROM b\nENV A=1 B", 'Syntax error - can\'t find = in "B"'),
    ("FROM b\nCOPY --bogus=1 a b", "unknown flag: bogus"),
    ("FROM b\nSHELL /bin/bash", "SHELL requires the arguments to be in JSON form"),
    ("FROM b\nHEALTHCHECK FOO x", 'Unknown type "FOO" in HEALTHCHECK'),
    ("FROM b\nONBUILD ONBUILD RUN x", "Chaining ONBUILD"),
    ("FROM b\nONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"),
    ("FROM b\nRUN <<EOF\nno end", "unterminated heredoc EOF"),
    ("FROM b\nHEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"),
    ("# escape=\\\n# escape=`\nFROM b", "only one escape parser directive"),
]


@pytest.mark.parametrize(("text", "msg"), ERRORS)
def test_parse_errors(text: str, msg: str) -> None:
    with pytest.raises(DockerfileError) as e:
        parse(text)
    assert msg in e.value.message


def test_directive_only_at_top() -> None:
    df = parse("FROM b\n# escape=`\nRUN a `\nRUN b")
    assert df.escape == "\\"
    assert [i.cmd for i in df.instructions] == ["FROM", "RUN", "RUN"]


def test_flags_and_lines() -> None:
    ins = _one("FROM b\n\nCOPY --from=s --chown=1:2 --chmod=640 a \\\n  /b")[1]
    assert ins.flags == {"from": "s", "chown": "1:2", "chmod": "640"}
    assert (ins.line, ins.end_line) == (3, 4)
    assert ins.original == "COPY --from=s --chown=1:2 --chmod=640 a   /b"


def test_heredocs() -> None:
    df = parse(
        "FROM b\nRUN <<A cat - <<-'B'\nline $X\nA\n\tkept\n\tB\nCOPY <<\"C\" /f\n$Y\nC\nRUN x\n"
    )
    run, cp, last = df.instructions[1:]
    assert [(h.name, h.content, h.expand, h.chomp) for h in run.heredocs] == [
        ("A", "line $X\n", True, False),
        ("B", "kept\n", False, True),
    ]
    assert cp.heredocs[0].content == "$Y\n" and not cp.heredocs[0].expand
    assert last.args == ["x"]


def test_empty_continuation_warns() -> None:
    df = parse("FROM b\nRUN a \\\n\n  b")
    assert df.warnings and "Empty continuation line" in df.warnings[0]


def test_stages_and_expansion() -> None:
    df = parse("ARG V=1\nFROM b:$V AS One\nENV X=$V Y=${Z:-z}\nFROM one\nRUN echo $X")
    gargs, stages = split_stages(df)
    assert [g.args for g in gargs] == [["V=1"]]
    assert [(s.name, s.base) for s in stages] == [("one", "b:$V"), ("", "one")]
    env_ins = stages[0].instructions[0]
    assert expand(env_ins, {"V": "1"}) == ["X", "1", "Y", "z"]
    # RUN is left to the shell
    assert expand(stages[1].instructions[0], {"X": "q"}) == ["echo $X"]


def test_stage_errors() -> None:
    with pytest.raises(DockerfileError, match="no build stage"):
        split_stages(parse("RUN x"))
    with pytest.raises(DockerfileError, match="duplicate stage name"):
        split_stages(parse("FROM a AS x\nFROM b AS x"))


IGNORE = [
    (["*.log"], "a.log", True),
    (["*.log"], "d/a.log", False),
    (["**/*.log"], "d/e/a.log", True),
    (["**/*.log"], "a.log", True),
    (["d"], "d/e/f", True),
    (["d", "!d/keep"], "d/keep", False),
    (["d", "!d/keep"], "d/other", True),
    (["!a", "*"], "a", True),
    (["*", "!a"], "a", False),
    (["/x"], "x", True),
    (["./x/"], "x/y", True),
    (["a?c"], "abc", True),
    (["a?c"], "a/c", False),
    (["[a-c]x"], "bx", True),
    (["[!a]x"], "ax", False) if False else (["[^a]x"], "ax", False),
    (["**"], "any/thing", True),
    (["d/**/z"], "d/z", True),
    (["d/**/z"], "d/a/b/z", True),
]


@pytest.mark.parametrize(("patterns", "path", "want"), IGNORE)
def test_dockerignore(patterns: list[str], path: str, want: bool) -> None:
    assert Matcher(patterns).excluded(path) is want


@pytest.mark.parametrize(
    ("pattern", "name", "want"),
    [("*.txt", "a.txt", True), ("*.txt", "a.md", False), ("f?o", "foo", True),
     ("[a-z]1", "q1", True), ("[^a-z]1", "q1", False), ("\\*", "*", True), ("a*", "abc", True)],
)  # fmt: skip
def test_go_filepath_match(pattern: str, name: str, want: bool) -> None:
    assert match(pattern, name) is want
