"""The package's own shape: its modules import each other without a cycle
(type-checking imports included), its core needs nothing outside the
standard library, and a framework adapter (an optional extra) needs only its
framework and is never imported by the core."""

import ast
import pathlib
import sys

import storage_proxy

PACKAGE = pathlib.Path(storage_proxy.__file__).parent


def _imports(path: pathlib.Path):
    """The package modules a module imports, wherever in it (``if TYPE_CHECKING:`` too), and its outside imports."""
    inside, outside = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level > 0:
                names = [node.module] if node.module else [a.name for a in node.names]
                inside.update(n.split(".")[0] for n in names)
            elif node.module:
                outside.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            outside.update(a.name.split(".")[0] for a in node.names)
    return inside, outside


def test_no_import_cycle():
    modules = {p.stem: _imports(p)[0] for p in PACKAGE.glob("*.py")}
    state = {}

    def visit(name, path):
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", "import cycle: " + " -> ".join(path + [name])
        state[name] = "open"
        for dep in sorted(modules.get(name, ())):
            visit(dep, path + [name])
        state[name] = "done"

    for name in sorted(modules):
        visit(name, [])


# The optional extras' modules (pyproject's optional-dependencies) and what each may import besides the standard library.
EXTRAS = {"langgraph": {"langgraph", "langchain_core"}, "langgraph_store": {"langgraph"},
          "langchain": set(), "langchain_vectorstore": {"langchain_core", "numpy"}, "langchain_cache": {"langchain_core"},
          "langchain_bytestore": {"langchain_core"}, "apscheduler": {"apscheduler", "attrs"},
          "apscheduler_events": {"apscheduler", "attrs", "anyio"}}


def test_core_uses_the_standard_library_only():
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for path in PACKAGE.glob("*.py"):
        inside, outside = _imports(path)
        outside -= stdlib | EXTRAS.get(path.stem, set())
        assert not outside, f"{path.name} imports {sorted(outside)}"
        if path.stem not in EXTRAS:
            assert not inside & set(EXTRAS), f"{path.name} imports an optional extra: {sorted(inside & set(EXTRAS))}"
