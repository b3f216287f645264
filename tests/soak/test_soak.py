"""A minute of the soak, for ``pytest -m soak`` (deselected otherwise: pyproject.toml's addopts).

The script itself runs longer by default: ``make soak`` or ``python -m tests.soak.soak``.
"""

from __future__ import annotations

import pytest

from tests.soak import soak

pytestmark = pytest.mark.soak


def test_a_minute_of_mixed_traffic_has_no_5xx_no_failed_verification_and_flat_memory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = soak.main(["--seconds", "60", "--warmup", "20"])
    printed = capsys.readouterr().out
    assert status == 0, printed
