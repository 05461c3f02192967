"""Tests of general/domain mixing: ratio parsing, exact counts, sampling, epoch shuffles."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from workshop_fixtures import conversation, read_jsonl, write_jsonl

from qiao.errors import InvalidInputError, NotFoundError
from qiao.workshop.data import mix_data, mix_rows, parse_ratio, shuffle_for_epoch
from qiao.workshop.data.mix import report_path, split_counts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("70:30", (70.0, 30.0)),
        ("100:0", (100.0, 0.0)),
        ("0.5:99.5", (0.5, 99.5)),
        ("70：30", (70.0, 30.0)),
    ],
)
def test_parse_ratio_accepts(text, expected):
    assert parse_ratio(text) == expected


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("70:20", ["'70:20'", "adds up to 90", "70:30"]),
        ("-1:101", ["'-1:101'", "negative"]),
        ("abc", ["'abc'", "e.g. 70:30"]),
        ("70", ["'70'", "colon"]),
        ("7:3", ["'7:3'", "adds up to 10", "7:93"]),
    ],
)
def test_parse_ratio_rejects_with_fix(text, fragments):
    with pytest.raises(InvalidInputError) as caught:
        parse_ratio(text)
    for fragment in fragments:
        assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("rows", "percent", "expected"),
    [
        (10, 70, (7, 3)),
        (10_000, 70, (7000, 3000)),
        (3, 50, (2, 1)),
        (7, 100, (7, 0)),
        (1, 30, (0, 1)),
    ],
)
def test_split_counts_exact(rows, percent, expected):
    general, domain = split_counts(rows, percent)
    assert (general, domain) == expected
    assert general + domain == rows


def test_mix_without_replacement_when_sources_suffice():
    general = [f"g{index}" for index in range(100)]
    domain = [f"d{index}" for index in range(50)]
    mixed, warnings = mix_rows(general, domain, 60, 70, seed=3)
    assert warnings == []
    assert len(mixed) == 60
    assert sum(row.startswith("g") for row in mixed) == 42
    assert len(set(mixed)) == 60
    assert mix_rows(general, domain, 60, 70, seed=3)[0] == mixed
    assert mix_rows(general, domain, 60, 70, seed=4)[0] != mixed
    # Shuffled: the general rows are not all in front.
    assert not all(row.startswith("g") for row in mixed[:42])


def test_mix_repeats_small_source_evenly_with_warning():
    general = [f"g{index}" for index in range(100)]
    domain = [f"d{index}" for index in range(4)]
    mixed, warnings = mix_rows(general, domain, 100, 90, seed=0)
    domain_uses = Counter(row for row in mixed if row.startswith("d"))
    assert sum(domain_uses.values()) == 10
    assert set(domain_uses.values()) == {2, 3}
    assert len(warnings) == 1
    warning = warnings[0]
    assert (warning["source"], warning["available"], warning["needed"]) == ("domain", 4, 10)
    assert (warning["low"], warning["high"]) == (2, 3)
    assert "4 rows but 10 are needed" in warning["message"]


def test_mix_rejects_zero_rows():
    with pytest.raises(InvalidInputError, match="--rows 0"):
        mix_rows(["g"], ["d"], 0, 70)


def test_shuffle_for_epoch_is_seeded_permutation():
    rows = list(range(50))
    first = shuffle_for_epoch(rows, epoch=0, seed=1)
    assert sorted(first) == rows
    assert shuffle_for_epoch(rows, epoch=0, seed=1) == first
    assert shuffle_for_epoch(rows, epoch=1, seed=1) != first
    assert shuffle_for_epoch(rows, epoch=0, seed=2) != first
    assert rows == list(range(50))


def test_mix_files_report_realised_ratio(tmp_path):
    general = write_jsonl(
        tmp_path / "general.jsonl",
        [conversation(f"通用问题{i}", f"通用回答{i}") for i in range(30)],
    )
    domain = write_jsonl(
        tmp_path / "domain.jsonl", [conversation(f"医疗问题{i}", f"医疗回答{i}") for i in range(5)]
    )
    out = tmp_path / "mix.jsonl"
    report = mix_data(general, domain, "70:30", 20, out, seed=1)
    rows = read_jsonl(out)
    assert len(rows) == 20
    assert Counter(row["mix_source"] for row in rows) == {"general": 14, "domain": 6}
    assert report["realised_ratio"] == {"general": 70.0, "domain": 30.0}
    assert report["sources"]["domain"] == {
        "file": str(domain),
        "available": 5,
        "used": 6,
        "unique": 5,
        "repeated": True,
    }
    assert report["sources"]["general"]["repeated"] is False
    assert report["warnings"][0]["needed"] == 6
    assert json.loads(report_path(out).read_text(encoding="utf-8")) == report


def test_mix_names_malformed_file_and_line(tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", [conversation("问", "答")])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(conversation("问", "答"), ensure_ascii=False) + "\n{not json\n", encoding="utf-8"
    )
    with pytest.raises(InvalidInputError, match=r"bad.jsonl line 2 is not valid JSON"):
        mix_data(good, bad, "70:30", 10, tmp_path / "mix.jsonl")

    no_messages = write_jsonl(tmp_path / "alpaca.jsonl", [{"instruction": "x", "output": "y"}])
    with pytest.raises(InvalidInputError, match=r"alpaca.jsonl line 1 has no 'messages' list"):
        mix_data(no_messages, good, "70:30", 10, tmp_path / "mix.jsonl")

    gbk = tmp_path / "gbk.jsonl"
    gbk.write_bytes(json.dumps(conversation("问", "答"), ensure_ascii=False).encode("gb18030"))
    with pytest.raises(InvalidInputError, match=r"gbk.jsonl line 1 is not UTF-8"):
        mix_data(good, gbk, "70:30", 10, tmp_path / "mix.jsonl")

    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"empty.jsonl is empty"):
        mix_data(good, empty, "70:30", 10, tmp_path / "mix.jsonl")

    with pytest.raises(NotFoundError, match="absent.jsonl"):
        mix_data(good, tmp_path / "absent.jsonl", "70:30", 10, tmp_path / "mix.jsonl")
    assert not (tmp_path / "mix.jsonl").exists()
