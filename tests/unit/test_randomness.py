"""The system randomness: identifiers are 32 alphanumerics, unique and unbiased."""

from __future__ import annotations

import string
from collections import Counter

from idp.runtime import SystemRandomness


def test_identifiers_are_32_alphanumerics_and_never_repeat() -> None:
    made = [SystemRandomness().identifier() for _ in range(5000)]
    assert all(len(i) == 32 and set(i) <= set(string.ascii_letters + string.digits) for i in made)
    assert len(set(made)) == len(made)


def test_every_character_of_the_alphabet_is_as_likely() -> None:
    counts = Counter("".join(SystemRandomness().identifier() for _ in range(6000)))
    expected = 6000 * 32 / 62  # about 3,097 each
    assert len(counts) == 62
    # A modulo bias (bytes 248-255 folded onto 8 characters) would put them ~12% above the rest;
    # honest draws stay within a few percent (six standard deviations here).
    assert all(abs(n - expected) < 6 * expected**0.5 for n in counts.values()), counts
