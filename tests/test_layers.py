"""The import contract holds, and breaking it fails with the two modules named."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"], cwd=root, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def tree(tmp_path):
    """A copy of the project's packages and contract, to break on purpose."""
    for package in ("shop", "tracking", "personalization", "segments", "experiments", "merchandising", "live"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_project_keeps_its_layers():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "imported"),
    [
        ("tracking/registry.py", "from shop.orders import services", "shop.orders.services"),
        ("tracking/validation.py", "import personalization.profiles", "personalization.profiles"),
        ("personalization/selectors.py", "from shop.catalog import views", "shop.catalog.views"),
        ("shop/keyspace.py", "from tracking import models", "tracking.models"),
        ("shop/orders/views.py", "from tracking.services import event_ingest", "tracking.services"),
        ("shop/catalog/views.py", "from personalization.serving import page_fill", "personalization.serving"),
        ("segments/services.py", "from shop.orders import services", "shop.orders.services"),
        ("tracking/services.py", "import segments.hooks", "segments.hooks"),
        ("experiments/stats.py", "from shop.orders import services", "shop.orders.services"),
        ("personalization/serving/state.py", "import experiments.assignment", "experiments.assignment"),
        ("tracking/services.py", "import live.pushes", "live.pushes"),
        ("live/render.py", "from personalization.serving import page_fill", "personalization.serving"),
        ("live/consumers.py", "from shop.orders import selectors", "shop.orders.selectors"),
        ("merchandising/engine.py", "from shop.orders import models", "shop.orders.models"),
        ("segments/services.py", "import merchandising.stages", "merchandising.stages"),
        ("shop/orders/services.py", "from merchandising import coupons", "merchandising.coupons"),
    ],
)
def test_a_forbidden_import_fails_naming_both_modules(tree, module, line, imported):
    path = tree / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    result = _lint(tree)
    assert result.returncode != 0
    importer = module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> {imported}" in result.stdout, result.stdout
