"""The [langgraph] extra as pyproject declares it admits the versions the suites run with."""

import importlib.metadata
import pathlib
import tomllib

PYPROJECT = pathlib.Path(__file__).resolve().parents[2] / "pyproject.toml"


def _version(text):
    return tuple(int(p) for p in text.split(".")[:3])


def test_the_extra_admits_the_installed_langgraph():
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]["langgraph"]
    assert declared, "no [langgraph] extra"
    for requirement in declared:
        name, ranges = requirement.split(">=", 1)[0], requirement[len(requirement.split(">=", 1)[0]):]
        installed = _version(importlib.metadata.version(name))
        for bound in ranges.split(","):
            op, version = (bound[:2], bound[2:]) if bound[:2] in (">=", "<=", "==") else (bound[:1], bound[1:])
            limit = _version(version)
            assert {">=": installed >= limit, "<": installed < limit, "<=": installed <= limit, "==": installed == limit}[op], \
                f"{name} {importlib.metadata.version(name)} is outside {requirement}"
