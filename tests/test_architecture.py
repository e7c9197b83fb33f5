"""House rules of ``src/tracknet``, read off the source with :mod:`ast` (nothing imported).

* no import cycles between modules (every import statement counts, lazy ones in function
  bodies included);
* no module over :data:`MAX_LINES` lines;
* only ``tracknet/io/`` and ``tracknet/detectors/`` test the dataset kind
  (``is_straw_dataset``); every other stage asks the detector.

Each rule has an allow-list of today's violations, which the refactor removes: the tests
fail as soon as a new violation appears, and when a listed one is gone (then delete the
entry, so it cannot come back unnoticed).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = "tracknet"
SRC = Path(__file__).resolve().parents[1] / "src"
MAX_LINES = 600

#: Accepted import cycles (each a strongly connected set of modules): none.
KNOWN_CYCLES: set[frozenset[str]] = set()

#: Accepted modules over MAX_LINES lines (paths under src/tracknet): none.
KNOWN_OVERSIZE: set[str] = set()

#: Accepted modules outside io/ and detectors/ that call ``is_straw_dataset``: none.
KNOWN_KIND_TESTS: set[str] = set()

#: Where testing the dataset kind belongs.
KIND_TEST_HOMES = ("io/", "detectors/")


@cache
def modules(src: Path = SRC, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` under ``src``."""
    found: dict[str, Path] = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _owner(name: str, known: dict[str, Path]) -> str | None:
    """The module of the package that ``name`` (a module or a name in one) lives in."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, src: Path = SRC, package: str = PACKAGE) -> set[str]:
    """Modules of the package that ``module`` imports anywhere in its body.

    ``from a import b`` counts ``a`` and, when it is a module, ``a.b``; a module importing
    its own parent package (``from . import x`` in ``pkg.mod``) counts only the modules
    it names, since the package is imported before its submodule anyway.
    """
    known = modules(src, package)
    path = known[module]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    targets: set[str] = set()
    for node in ast.walk(tree(path)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                root = ".".join(package[: len(package) - node.level + 1])
                base = f"{root}.{node.module}" if node.module else root
            else:
                base = node.module or ""
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for name in names:
            owner = _owner(name, known)
            if owner and owner != module and not module.startswith(owner + "."):
                targets.add(owner)
    return targets


def import_cycles(src: Path = SRC, package: str = PACKAGE) -> list[frozenset[str]]:
    """Strongly connected sets of more than one module (Tarjan, without recursion)."""
    graph = {m: sorted(imports_of(m, src, package)) for m in modules(src, package)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[frozenset[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            if child < len(graph[node]):
                work.append((node, child + 1))
                nxt = graph[node][child]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:  # finished node: hand its low link up to its parent
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(frozenset(component))
    return cycles


def relative(path: Path) -> str:
    return path.relative_to(SRC / PACKAGE).as_posix()


def test_the_cycle_finder_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The checker itself, on a made-up package: a lazy import closes a cycle, importing
    the parent package does not, and a chain without a way back is no cycle."""
    pkg = tmp_path / "toy"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from .a import f\n",
        "a.py": "from toy.b import g\n\ndef f():\n    return g()\n",
        "b.py": "def g():\n    from .a import f\n    return f\n",
        "c.py": "import toy.a\nfrom . import b\n",
        "sub/__init__.py": "",
        "sub/d.py": "from .. import c\nfrom toy import sub\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    assert imports_of("toy.b", tmp_path, "toy") == {"toy.a"}
    assert imports_of("toy.sub.d", tmp_path, "toy") == {"toy.c"}
    assert import_cycles(tmp_path, "toy") == [frozenset({"toy.a", "toy.b"})]


def test_no_new_import_cycles() -> None:
    cycles = import_cycles()
    new = [sorted(c) for c in cycles if not any(c <= known for known in KNOWN_CYCLES)]
    assert not new, f"new import cycle(s) between modules of src/tracknet: {new}"


def test_known_cycles_are_still_there() -> None:
    cycles = import_cycles()
    gone = [sorted(k) for k in KNOWN_CYCLES if not any(c <= k and len(c) > 1 for c in cycles)]
    assert not gone, f"cycle(s) removed: delete them from KNOWN_CYCLES: {gone}"


def _line_counts() -> dict[str, int]:
    return {
        relative(path): len(path.read_text(encoding="utf-8").splitlines())
        for path in modules().values()
    }


def test_no_module_is_over_the_line_limit() -> None:
    over = {name: n for name, n in _line_counts().items() if n > MAX_LINES}
    new = {name: n for name, n in over.items() if name not in KNOWN_OVERSIZE}
    assert not new, f"modules over {MAX_LINES} lines (split them): {new}"


def test_known_oversize_modules_are_still_oversize() -> None:
    counts = _line_counts()
    fixed = sorted(name for name in KNOWN_OVERSIZE if counts.get(name, 0) <= MAX_LINES)
    assert not fixed, (
        f"no longer over {MAX_LINES} lines (or gone): delete from KNOWN_OVERSIZE: {fixed}"
    )


def _calls(path: Path, function: str) -> list[int]:
    """Line numbers where ``function`` is called (as a bare name or an attribute)."""
    lines = []
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == function:
                lines.append(node.lineno)
    return lines


def _kind_tests() -> dict[str, list[int]]:
    found = {}
    for path in modules().values():
        name = relative(path)
        if name.startswith(KIND_TEST_HOMES):
            continue
        lines = _calls(path, "is_straw_dataset")
        if lines:
            found[name] = lines
    return found


def test_only_io_and_detectors_test_the_dataset_kind() -> None:
    new = {name: lines for name, lines in _kind_tests().items() if name not in KNOWN_KIND_TESTS}
    assert not new, (
        "is_straw_dataset called outside tracknet/io and tracknet/detectors"
        f" (ask tracknet.detectors.detector_of instead): {new}"
    )


def test_known_kind_tests_are_still_there() -> None:
    gone = sorted(KNOWN_KIND_TESTS - set(_kind_tests()))
    assert not gone, f"no longer test the dataset kind: delete from KNOWN_KIND_TESTS: {gone}"


@pytest.mark.parametrize("module", ["tracknet", "tracknet.building", "tracknet.detectors"])
def test_the_checker_finds_the_packages(module: str) -> None:
    assert module in modules()
