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
    return sorted((PACKAGE / folder).rglob("*.py")) if folder else [PACKAGE / "x.py"]


RULES = [
    # (files, forbidden import prefixes, why)
    ("export", ("vaest.train.vae", "vaest.train.refiner"), "export never imports a trainer"),
    ("stylize", ("vaest.train", "vaest.models"), "stylize reads only the export"),
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


def test_a_trainer_never_imports_another():
    vae, refiner = PACKAGE / "train" / "vae.py", PACKAGE / "train" / "refiner.py"
    assert not any(m.startswith("vaest.train.refiner") for m in imports_of(vae))
    assert not any(m.startswith("vaest.train.vae") for m in imports_of(refiner))


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
