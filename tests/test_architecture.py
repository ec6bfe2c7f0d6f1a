"""The layers hold: the import contracts in pyproject.toml ([tool.importlinter]) are kept.

The kernel and the settings import no feature, the transport (`server/realtime/`) knows no
feature, features depend one way (docs/architecture.md draws the layers) and no package's
modules import each other in a cycle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_every_import_contract_is_kept() -> None:
    result = subprocess.run(  # noqa: S603 - the venv's own lint-imports, fixed arguments
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "0 broken" in report, report
    # Four contracts: a new one belongs in this count, and a lost one is noticed.
    assert "Contracts: 4 kept" in report, report
