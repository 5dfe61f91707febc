"""The house rules: one-way imports between the stage packages, and modules a person can read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vaest"
LONGEST = 400  # lines; the procedural sample painter is the one exception
EXEMPT_FROM_LENGTH = {"vaest/data/sample.py"}


def imports_of(path: Path) -> set[str]:
    """Every vaest module a file imports, at any depth (function-level imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vaest"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("vaest"))
    return found


def modules(folder: str) -> list[Path]:
    """The modules of a package of vaest; a misspelt name fails rather than checking nothing."""
    found = sorted((PACKAGE / folder).rglob("*.py"))
    assert found, f"vaest/{folder} holds no module"
    return found


RULES = [
    # (files, forbidden import prefixes, why)
    (
        "export",
        ("vaest.train.vae", "vaest.train.refin", "vaest.train.painter"),
        "export never imports a trainer",
    ),
    ("stylize", ("vaest.train", "vaest.models", "vaest.data"), "stylize reads only the export"),
    ("evaluate", ("vaest.train", "vaest.models"), "evaluate reads only the export"),
    ("models", ("vaest.data", "vaest.cli"), "models read no records"),
]


@pytest.mark.parametrize(("folder", "forbidden", "why"), RULES, ids=[r[2] for r in RULES])
def test_stage_packages_import_one_way(folder, forbidden, why):
    broken = {
        str(path.relative_to(ROOT)): sorted(m for m in imports_of(path) if m.startswith(forbidden))
        for path in modules(folder)
    }
    assert not {k: v for k, v in broken.items() if v}, why


def import_graph() -> dict[str, set[str]]:
    """{file: the files of vaest/ and bench/ it imports, at any depth}, as paths from the root."""
    files = [*PACKAGE.rglob("*.py"), *(ROOT / "bench").glob("*.py")]
    known = {p.relative_to(ROOT).with_suffix("").as_posix().replace("/", "."): p for p in files}
    graph = {}
    for path in files:
        names = set(imports_of(path))
        if path.parent.name == "bench":  # the benchmarks import each other by bare module name
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(f"bench.{node.module}")
                elif isinstance(node, ast.Import):
                    names.update(f"bench.{a.name}" for a in node.names)
        targets = {known[n].relative_to(ROOT).as_posix() for n in names if n in known}
        graph[path.relative_to(ROOT).as_posix()] = targets - {path.relative_to(ROOT).as_posix()}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of files that reach each other through imports (Tarjan's components > 1)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_in_vaest_or_bench():
    """No two modules import each other, directly or round a loop, lazily or not."""
    graph = import_graph()
    assert "vaest/train/refining.py" in graph["vaest/train/refiner.py"]  # edges are seen
    assert import_cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    graph = {"a.py": {"b.py"}, "b.py": {"c.py"}, "c.py": {"a.py"}, "d.py": {"a.py"}}
    assert import_cycles(graph) == [["a.py", "b.py", "c.py"]]


def trainers() -> list[Path]:
    """The modules of vaest/train that train a model: those with a train_<module> function."""
    return [
        path
        for path in sorted((PACKAGE / "train").glob("*.py"))
        if any(
            isinstance(node, ast.FunctionDef) and node.name == f"train_{path.stem}"
            for node in ast.parse(path.read_text()).body
        )
    ]


def test_a_trainer_never_imports_another():
    found = trainers()
    assert {p.stem for p in found} >= {"vae", "refiner", "painter"}, "trainers not found"
    names = {f"vaest.train.{p.stem}" for p in found}
    for path in (PACKAGE / "train").glob("*.py"):
        others = names - {f"vaest.train.{path.stem}"}
        imported = {m for m in imports_of(path) if m in others or m.rpartition(".")[0] in others}
        assert not imported, f"{path.relative_to(ROOT)} imports the trainer(s) {sorted(imported)}"


def test_only_runnable_modules_import_the_cli():
    """Library modules raise vaest.errors.UserError; the CLI is for modules run as scripts."""
    users = [p for p in PACKAGE.rglob("*.py") if "vaest.cli" in imports_of(p)]
    assert users, "the check would pass vacuously"
    for path in users:
        assert 'if __name__ == "__main__":' in path.read_text(), path


def code_without_docstrings(path: Path) -> str:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def test_the_shift_formula_is_written_once_in_python():
    """z' = mu - a c_source + b c_target: in vaest/latent.py, and once in the export's graph."""
    places = sorted(
        p.relative_to(ROOT).as_posix()
        for p in PACKAGE.rglob("*.py")
        if "target_weight *" in code_without_docstrings(p)
    )
    assert places == ["vaest/export/write.py", "vaest/latent.py"]


def test_modules_stay_short():
    long = {
        p.relative_to(ROOT).as_posix(): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > LONGEST
    }
    assert set(long) <= EXEMPT_FROM_LENGTH, long


def test_no_stylize_function_takes_more_than_five_positional_arguments():
    """Step 7's options travel in a Plan or as keywords, not in long positional lists."""
    long = []
    for path in modules("stylize"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args.posonlyargs + node.args.args
                named = [a.arg for a in args if a.arg not in ("self", "cls")]
                if len(named) > 5:
                    long.append(f"{path.relative_to(ROOT)}:{node.name}({', '.join(named)})")
    assert long == []


def test_target_means_c_target_alone_in_stylize():
    """--target's schedule of c_target is the one "target" of step 7: the style video and
    optimize's texture terms have names of their own."""
    named = sorted(str(p.relative_to(PACKAGE)) for p in modules("stylize") if "target" in p.stem)
    assert named == ["stylize/targets.py"], named
