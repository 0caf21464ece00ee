"""The package structure holds: imports go down the layers, SQL stays in ``store``, the web
framework stays in the edges, and only ``config`` reads the environment.

``docs/architecture.md`` describes the same rules; these tests read every module's source,
so a change that breaks a rule fails here before review.
"""

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src" / "scimgate"

BELOW_STORE = {"scim", "config", "events", "logging", "wording", "records"}
BELOW_SERVICE = BELOW_STORE | {"store"}
BELOW_EDGES = BELOW_SERVICE | {"service"}

MAY_IMPORT: dict[str, set[str]] = {
    "records": set(),
    "scim": {"records"},
    "logging": set(),
    "wording": set(),
    "config": {"scim", "records"},
    "events": {"scim", "records"},
    "store": BELOW_STORE,
    "service": BELOW_SERVICE,
    # The edges. The SCIM and management API's app mounts the portal, which takes the
    # client's address, the engine and the public root as the API does; the CLI serves
    # that app.
    "api": BELOW_EDGES | {"admin"},
    "admin": BELOW_EDGES | {"api"},
    "cli": BELOW_EDGES | {"api", "simulator"},
    # Beside the layers: the Python client of the events API, and the IdP simulator,
    # which speaks only HTTP to a server.
    "client": {"events"},
    "simulator": set(),
    "__main__": {"cli"},
}
"""The scimgate packages each package may import (besides itself and ``scimgate.__version__``)."""

EDGES = {"api", "admin", "cli", "__main__"}
SERVES_HTTP = EDGES | {"simulator"}
"""Who may use the web framework: the edges, and the simulator, which serves its stand-in
for Google Workspace."""
WEB_FRAMEWORKS = {"fastapi", "starlette", "uvicorn", "jinja2"}
SQLALCHEMY_TYPES = {"Engine", "Connection"}
"""What a module outside ``store`` may take from SQLAlchemy: the handles it passes down."""


@dataclass(frozen=True)
class Module:
    path: Path
    package: str
    tree: ast.Module

    @property
    def name(self) -> str:
        return str(self.path.relative_to(SOURCE))


def _modules() -> Iterator[Module]:
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(SOURCE).parts
        if parts[0] == "__init__.py" or parts[:2] == ("store", "migrations"):
            continue
        yield Module(path, parts[0].removesuffix(".py"), ast.parse(path.read_text()))


MODULES = list(_modules())


def _imports(module: Module) -> Iterator[tuple[str, set[str], int]]:
    """Each absolute import: the module imported, the names taken from it, the line."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, set(), node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, {alias.name for alias in node.names}, node.lineno


def test_every_package_has_a_rule() -> None:
    assert {module.package for module in MODULES} == set(MAY_IMPORT)


def test_imports_go_down_the_layers() -> None:
    wrong = []
    for module in MODULES:
        for imported, names, line in _imports(module):
            parts = imported.split(".")
            if parts[0] != "scimgate":
                continue
            if len(parts) == 1:
                if names - {"__version__"}:
                    wrong.append(f"{module.name}:{line} imports {names} from scimgate")
                continue
            target = parts[1]
            if target != module.package and target not in MAY_IMPORT[module.package]:
                wrong.append(f"{module.name}:{line} ({module.package}) imports {imported}")
    assert wrong == []


def test_sql_stays_in_the_store() -> None:
    wrong = [
        f"{module.name}:{line} imports {imported} {sorted(names)}"
        for module in MODULES
        if module.package != "store"
        for imported, names, line in _imports(module)
        if imported.split(".")[0] == "sqlalchemy"
        and (imported != "sqlalchemy" or not names <= SQLALCHEMY_TYPES)
    ]
    assert wrong == []


def test_the_web_framework_stays_in_the_edges() -> None:
    wrong = [
        f"{module.name}:{line} imports {imported}"
        for module in MODULES
        if module.package not in SERVES_HTTP
        for imported, _names, line in _imports(module)
        if imported.split(".")[0] in WEB_FRAMEWORKS
    ]
    assert wrong == []


def _reads_environment(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr in ("environ", "getenv", "environb") and (
            isinstance(node.value, ast.Name) and node.value.id == "os"
        )
    if isinstance(node, ast.ImportFrom):
        return node.module == "os" and any(
            alias.name in ("environ", "getenv", "environb") for alias in node.names
        )
    return False


def test_only_config_reads_the_environment() -> None:
    wrong = [
        f"{module.name}:{node.lineno}"
        for module in MODULES
        if module.name != "config.py"
        for node in ast.walk(module.tree)
        if _reads_environment(node)
    ]
    assert wrong == [], "settings enter through Settings (config.py) only"
