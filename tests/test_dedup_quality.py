"""Dedup quality pinned on a generated syndicated corpus (tests/benchmarks/syndication.py), at small scale."""

import sys
from pathlib import Path

import pytest

from conftest import SHARED
from flows.config import Settings

sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))
import syndication  # noqa: E402


@pytest.fixture(scope="module")
def result():
    if not (SHARED / "benchmarks" / "article-extraction").is_dir():
        pytest.skip("../shared/benchmarks is not available")
    return syndication.evaluate(syndication.load_gold()[:60], copies=3, seed=1, settings=Settings(), batches=2)


def test_near_duplicates_are_found_precisely(result):
    for kind in ("identical", "typographic", "light", "sentence"):
        assert result[kind]["precision"] >= 0.99, kind
    assert result["identical"]["recall"] == 1.0
    assert result["typographic"]["recall"] == 1.0
    assert result["light"]["recall"] >= 0.95
    assert result["sentence"]["recall"] >= 0.95


def test_split_and_merged_paragraphs_are_linked_to_their_sources(result):
    assert result["split"]["containment_recall"] >= 0.95
    assert result["merge"]["containment_recall"] >= 0.9


def test_ten_outlets_of_one_story_stay_precise():
    # The same story from ten outlets: merged paragraphs are many, and each one near copies of both passages it merged
    # once chained the two into one passage, every copy of each paired with every copy of the other (precision fell
    # to 0.97-0.98 here).
    if not (SHARED / "benchmarks" / "article-extraction").is_dir():
        pytest.skip("../shared/benchmarks is not available")
    result = syndication.evaluate(syndication.load_gold()[:60], copies=10, seed=1, settings=Settings(), batches=2)
    for kind in ("identical", "typographic", "light", "sentence"):
        assert result[kind]["precision"] >= 0.99, kind
    assert result["identical"]["recall"] == 1.0
    assert result["light"]["recall"] >= 0.95
    assert result["split"]["containment_recall"] >= 0.95
    assert result["merge"]["containment_recall"] >= 0.9
