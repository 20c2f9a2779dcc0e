"""The metric the accuracy tests rely on, checked against hand-counted cases."""

from __future__ import annotations

import pytest

from bench.sonic.wer import normalise, word_error_rate


def test_normalise_drops_case_and_punctuation() -> None:
    assert normalise("The quick, brown fox -- jumps!") == ["the", "quick", "brown", "fox", "jumps"]


@pytest.mark.parametrize(
    ("reference", "hypothesis", "expected"),
    [
        ("the cat sat", "the cat sat", 0.0),
        ("the cat sat", "The cat sat.", 0.0),
        ("the cat sat", "the bat sat", 1 / 3),
        ("the cat sat", "the sat", 1 / 3),
        ("the cat sat", "the big cat sat", 1 / 3),
        ("the cat sat", "", 1.0),
        ("a b c d", "d c b a", 1.0),
        ("", "", 0.0),
    ],
)
def test_word_error_rate(reference: str, hypothesis: str, expected: float) -> None:
    assert word_error_rate(reference, hypothesis) == pytest.approx(expected)
