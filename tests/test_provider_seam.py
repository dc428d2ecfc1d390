"""The engine and the drip-feed run here meet at one public seam (smmpanel.providers.placing), without a cycle.

Read from the modules' source (their imports and attribute uses), not from a running
process: a cycle or a reach into another module's private functions is a design fault
whatever the import order of the day happens to hide.
"""

import ast
from pathlib import Path

import smmpanel.providers as providers

HERE = Path(providers.__file__).parent


def imported_modules(name: str) -> set[str]:
    tree = ast.parse((HERE / f"{name}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def private_uses(name: str, of: str) -> list[str]:
    """`of._something` attribute uses in module `name`."""
    tree = ast.parse((HERE / f"{name}.py").read_text())
    return [
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == of
        and node.attr.startswith("_")
    ]


def test_neither_dripfeed_nor_placing_imports_the_engine():
    for name in ("dripfeed", "placing"):
        assert "smmpanel.providers.engine" not in imported_modules(name), name
    assert "smmpanel.providers.dripfeed" not in imported_modules("placing")


def test_dripfeed_uses_only_the_public_functions_of_placing():
    assert "smmpanel.providers.placing" in imported_modules("dripfeed")
    assert private_uses("dripfeed", "placing") == []
    assert private_uses("dripfeed", "engine") == []
