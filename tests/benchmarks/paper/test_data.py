"""The shipped data subsets: integrity against the recorded hashes, and the split procedure."""

import gzip
import hashlib
import json

import pytest

from benchmarks.paper.common import DATA_DIR, exact_match, normalize_answer, paper_split, pool_sizes, resolve_sizes

HASHES = {
    "hotpotqa/hotpotqa_sample_500.jsonl.gz": "ef31b471bcc8d722732aca29a97dbb391d414c647d81c56eeb4826226d8b4d2a",
    "ifbench/IFBench_test.jsonl.gz": "11c3d683dcc7f4908a4d3cacd05c9a8bbd5484af2f8fde969e7abe2b8bad3e34",
    "pupa/PUPA_New.csv.gz": "72d7659c717706bc987f0d296d9714f63db5e75c6645376ec75380e6638b8f91",
}


@pytest.mark.parametrize("name", sorted(HASHES))
def test_shipped_files_decompress_to_the_recorded_source(name):
    data = gzip.decompress((DATA_DIR / name).read_bytes())
    assert hashlib.sha256(data).hexdigest() == HASHES[name]
    assert HASHES[name] in (DATA_DIR / "ATTRIBUTION.md").read_text()


def test_hover_subset_is_the_in_corpus_dev_claims():
    items = json.loads((DATA_DIR / "hover/hover_dev_in_hotpotqa_corpus.json").read_text())
    assert len(items) == 66
    with gzip.open(DATA_DIR / "hotpotqa/hotpotqa_sample_500.jsonl.gz", "rt") as f:
        titles = {t for line in f for t in json.loads(line)["context"]["title"]}
    assert all(title in titles for item in items for title, _ in item["supporting_facts"])
    assert {item["num_hops"] for item in items} == {2, 3}


def test_total_shipped_size_is_modest():
    total = sum(p.stat().st_size for p in DATA_DIR.rglob("*") if p.is_file())
    assert total < 3_000_000


def test_paper_split_cuts_test_val_train_in_order():
    train, val, test = paper_split(list(range(10)), (2, 4, 4))
    assert (test, val, train) == ([0, 1, 2, 3], [4, 5, 6, 7], [8, 9])
    assert pool_sizes(10) == (2, 4, 4)


def test_paper_split_samples_with_seed_plus_one_and_is_deterministic():
    a = paper_split(list(range(100)), (5, 5, 5), seed=0, shuffle=True)
    b = paper_split(list(range(100)), (5, 5, 5), seed=0, shuffle=True)
    c = paper_split(list(range(100)), (5, 5, 5), seed=1, shuffle=True)
    assert a == b and a != c
    train, val, test = a
    assert not set(train) & set(val) and not set(val) & set(test) and not set(train) & set(test)


def test_paper_split_rejects_oversized_requests():
    with pytest.raises(ValueError, match="only 2"):
        paper_split(list(range(10)), (3, 1, 1))


@pytest.mark.parametrize("bad", [(1, 2), (1, -1, 1), (1, 2, 3, 4)])
def test_resolve_sizes_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        resolve_sizes(bad, (1, 1, 1))


def test_exact_match_normalizes_case_articles_and_punctuation():
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert exact_match("the eiffel tower", "Eiffel Tower.")
    assert not exact_match("Eiffel", "Eiffel Tower")
    assert not exact_match(None, "x")
    assert exact_match("1755", ["1754", "1755"])
