"""The codebase's shape, held to what a new contributor is promised: small modules and functions, a core that never
imports the web app, and a README that is a front page whose links all resolve."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest

from conftest import ROOT

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50


def project_modules():
    return [ROOT / "app.py", *sorted((ROOT / "neuralart").rglob("*.py"))]


@pytest.mark.parametrize("path", project_modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_modules_and_functions_stay_small(path):
    text = path.read_text()
    assert text.count("\n") <= MAX_MODULE_LINES, f"{path.name} has {text.count(chr(10))} lines"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{path.name}: {', '.join(long)}"


def imported_after(statements: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules starting with one of `prefixes` that a fresh interpreter has loaded after `statements`."""
    code = (f"import sys\n{statements}\n"
            f"print(sorted(name for name in sys.modules if name.startswith({prefixes!r})))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return eval(result.stdout.strip())


def test_the_core_never_imports_the_web_app():
    core = sorted(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                  for path in (ROOT / "neuralart").rglob("*.py")
                  if path.relative_to(ROOT / "neuralart").parts[0] != "ui" and path.name != "__main__.py")
    statements = f"import importlib\nfor name in {core!r}: importlib.import_module(name)"
    assert imported_after(statements, ("gradio", "neuralart.ui")) == []


def test_nothing_heavy_at_import():
    """The package, its command line and the app's build import no TensorFlow: it loads when a run starts."""
    assert imported_after("import neuralart, neuralart.cli, app; app.build_demo()", ("tensorflow", "keras")) == []


def test_readme_is_a_front_page():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) < 200
    first = "\n".join(lines[:60])
    assert "pip install -r requirements.txt && python app.py" in first
    assert "pip install -r requirements-test.txt && python -m pytest" in first
    assert "Deep Learning for Vision Systems" in first and "chapter 9" in first


def test_every_link_in_the_readme_resolves():
    text = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    assert targets
    for target in targets:
        if target.startswith(("http://", "https://")):
            continue
        path = target.split("#")[0]
        assert (ROOT / path).exists(), target
    for document in ("docs/performance.md", "docs/serving.md"):
        assert (ROOT / document).is_file()
