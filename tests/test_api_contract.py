"""The HTTP API keeps the contract its OpenAPI schema states: schemathesis, all checks, against the
real server (``moodtune serve``), a fixed number of examples per operation and a fixed seed.

Checks include: no 5xx, only documented status codes, responses matching their schemas,
schema-valid requests accepted, schema-violating ones rejected, ``Allow`` headers on 405.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed")
pytest.importorskip("schemathesis", reason="the test extra is not installed")
from helpers import serve  # noqa: E402

TESTS = Path(__file__).resolve().parent
EXAMPLES, SEED = 20, 1

pytestmark = pytest.mark.slow


def test_schemathesis_finds_no_contract_failures(tmp_path):
    with serve("--log-level", "warning") as server:
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
               "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
        out = subprocess.run([sys.executable, "-m", "schemathesis.cli", "run", "--checks", "all", "--max-examples", str(EXAMPLES),
                              "--seed", str(SEED), "--no-color", "--workers", "1", f"{server.url}/openapi.json"],
                             capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
        log = server.log_text()
    report = out.stdout[-6000:] + out.stderr[-2000:]
    cases = re.search(r"(\d+) generated", out.stdout)
    assert cases and int(cases.group(1)) >= 100, report  # the run did test the API
    assert out.returncode == 0, report
    assert "Traceback" not in log, log[-3000:]
