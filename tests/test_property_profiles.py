"""The property tests replay fixed cases in CI and draw fresh ones under `make fuzz`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOW = (
    "import tests.conftest; from hypothesis import settings; d = settings.default; "
    "print(d.derandomize, d.database is None, d.max_examples)"
)


def _profile(**environment: str) -> str:
    env = {key: value for key, value in os.environ.items() if key not in {"CI", "HYPOTHESIS_PROFILE"}}
    env.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.test")
    completed = subprocess.run(
        [sys.executable, "-c", SHOW], cwd=ROOT, env={**env, **environment}, capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


@pytest.mark.parametrize("environment", [{"CI": "true"}, {"CI": "true", "HYPOTHESIS_PROFILE": "ci"}])
def test_ci_replays_the_same_cases_every_run(environment):
    assert _profile(**environment) == "True True 200"


def test_fuzz_draws_fresh_cases_and_many_more_of_them():
    derandomize, _, examples = _profile(CI="true", HYPOTHESIS_PROFILE="fuzz").split()
    assert derandomize == "False"
    assert int(examples) >= 5000
