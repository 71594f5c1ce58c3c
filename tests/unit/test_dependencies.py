"""Dependencies point one way: policy (pure) <- protocol <- controller / agent; the dataplane
knows nothing of the agent; the controller knows the directory only through its interface."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "overcast"


def imports_of(package: str) -> dict[str, set[str]]:
    """Module (relative to overcast) -> the overcast modules it imports, anywhere in its body."""
    found: dict[str, set[str]] = {}
    for path in (PACKAGE / package).rglob("*.py"):
        if path.name.endswith("_pb2.py") or path.name.endswith("_pb2_grpc.py"):
            continue
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        base = module.split(".")[:-1]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = base[: len(base) - node.level + 1]
                    name = ".".join([*anchor, node.module] if node.module else anchor)
                elif node.module and node.module.startswith("overcast."):
                    name = node.module.removeprefix("overcast.")
                else:
                    continue
                targets.add(name)
                targets.update(f"{name}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                names = (a.name for a in node.names if a.name.startswith("overcast."))
                targets.update(name.removeprefix("overcast.") for name in names)
        found[module] = targets
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("policy", ("protocol", "agent", "controller", "directory", "dataplane", "cli")),
        ("protocol", ("agent", "controller", "directory", "dataplane", "cli")),
        ("dataplane", ("agent", "controller", "directory", "cli")),
        ("agent", ("controller", "directory")),
        ("gateway", ("agent", "dataplane", "cli")),
    ],
)
def test_lower_layers_import_nothing_above(package: str, forbidden: tuple[str, ...]) -> None:
    wrong = {
        module: sorted(t for t in targets if t.split(".")[0] in forbidden)
        for module, targets in imports_of(package).items()
    }
    assert not {m: t for m, t in wrong.items() if t}


@pytest.mark.parametrize("package", ["controller", "gateway"])
def test_controllers_and_gateways_know_the_directory_only_through_its_interface(package: str) -> None:
    allowed = "directory.controller_interface"
    wrong = {
        module: sorted(t for t in targets if t.startswith("directory") and not t.startswith(allowed)
                       and t != "directory")  # fmt: skip
        for module, targets in imports_of(package).items()
    }
    assert not {m: t for m, t in wrong.items() if t}
