"""tracker.js stays small and parses; every event name it can send is in the registry."""

import gzip
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tracking.registry import REGISTRY

TRACKER = Path(__file__).resolve().parents[2] / "static" / "js" / "tracker.js"
# Unminified and gzipped; minified it is about two thirds of that (2.9 kB with terser, 2.3 kB
# before the WebSocket transport and the slot swap). 4.5 kB until the cart pieces' fetch after a
# cart push and the session slide an ack may ask for (4.6 kB with them).
GZIP_BUDGET = 4.75 * 1024


def test_tracker_is_small():
    assert len(gzip.compress(TRACKER.read_bytes(), 9)) < GZIP_BUDGET


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_tracker_parses():
    subprocess.run(["node", "--check", str(TRACKER)], check=True, capture_output=True)


def test_tracker_sends_only_registered_events():
    source = TRACKER.read_text()
    sent = set(re.findall(r'track\("([a-z_]+)"', source))
    ecommerce = set(re.findall(r"^\s+([a-z_]+): 1", source, re.MULTILINE)) | set(
        re.findall(r" ([a-z_]+): 1[,\n]", source)
    )
    assert sent, "no track() calls found"
    assert sent | ecommerce <= set(REGISTRY)
    assert "purchase" not in ecommerce  # the server records purchases from the order itself
