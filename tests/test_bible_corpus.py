"""Checks on the shipped English-Spanish Bible corpus (keras_transformer/data/bible_en_es).

The files are rebuilt by scripts/build_bible_corpus.py; these tests only read them
(gzip + split on tabs), so they are fast and need neither network nor SWORD.
"""

import gzip
import re
import unicodedata
from pathlib import Path

import pytest

DATA_DIR = Path(__file__).parents[1] / "keras_transformer/data/bible_en_es"
SPLITS = ("train", "validation", "test")

# OSIS ids of the 66 books, in canonical (KJV) order.
BOOKS = (
    "Gen Exod Lev Num Deut Josh Judg Ruth 1Sam 2Sam 1Kgs 2Kgs 1Chr 2Chr Ezra Neh Esth Job "
    "Ps Prov Eccl Song Isa Jer Lam Ezek Dan Hos Joel Amos Obad Jonah Mic Nah Hab Zeph Hag "
    "Zech Mal Matt Mark Luke John Acts Rom 1Cor 2Cor Gal Eph Phil Col 1Thess 2Thess 1Tim "
    "2Tim Titus Phlm Heb Jas 1Pet 2Pet 1John 2John 3John Jude Rev"
).split()
ID_RE = re.compile(r"^([1-3]?[A-Z][a-z]+)\.([1-9]\d*)\.([1-9]\d*)$")

# Left-over markup: tags, entities, SWORD/OSIS attributes, Strong's numbers.
MARKUP_RE = re.compile(r"[<>]|&[#\w]+;|strong:[GH]?\d|lemma=|\b[GH]\d{3,5}\b|\u00b6")


def _read_split(split):
    with gzip.open(DATA_DIR / f"{split}.tsv.gz", "rt", encoding="utf-8", newline="\n") as f:
        lines = f.read().split("\n")
    assert lines[-1] == "", "file must end with a newline"
    return lines[0], [line.split("\t") for line in lines[1:-1]]


@pytest.fixture(scope="module")
def corpus():
    """{split: [(id, en, es), ...]} read from the shipped files."""
    data = {}
    for split in SPLITS:
        header, rows = _read_split(split)
        assert header == "id\ten\tes"
        assert all(len(row) == 3 for row in rows), f"{split}: a row without exactly 3 columns"
        data[split] = [tuple(row) for row in rows]
    return data


@pytest.fixture(scope="module")
def readme_counts():
    """{split or "total": (pairs, [books])} from the split table in the README."""
    table = {}
    readme = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    for match in re.finditer(r"^\| (train|validation|test|total) \| ([\d,]+) \| (.*) \|$",
                             readme, re.MULTILINE):
        name, count, books = match.groups()
        table[name] = (int(count.replace(",", "")), re.findall(r"`([^`]+)`", books))
    return table


def _book(verse_id):
    return verse_id.split(".", 1)[0]


def _sort_key(verse_id):
    book, chapter, verse = ID_RE.match(verse_id).groups()
    return BOOKS.index(book), int(chapter), int(verse)


def test_split_files_exist():
    for split in SPLITS:
        assert (DATA_DIR / f"{split}.tsv.gz").is_file()


def test_gzip_headers_are_deterministic():
    # Byte 3 is FLG (0x08: a file name follows); bytes 4-7 are MTIME.
    for split in SPLITS:
        head = (DATA_DIR / f"{split}.tsv.gz").read_bytes()[:10]
        assert head[:2] == b"\x1f\x8b"
        assert head[3] & 0x08 == 0, f"{split}: file name stored in gzip header"
        assert head[4:8] == b"\x00\x00\x00\x00", f"{split}: non-zero gzip mtime"


def test_ids_are_well_formed_unique_and_in_canonical_order(corpus):
    for split, rows in corpus.items():
        ids = [row[0] for row in rows]
        for verse_id in ids:
            assert ID_RE.match(verse_id) and _book(verse_id) in BOOKS, verse_id
        assert len(set(ids)) == len(ids), f"{split}: duplicate ids"
        assert ids == sorted(ids, key=_sort_key), f"{split}: not in canonical order"


def test_no_id_in_two_splits(corpus):
    seen = {}
    for split, rows in corpus.items():
        for verse_id, _, _ in rows:
            assert verse_id not in seen, f"{verse_id} in {seen.get(verse_id)} and {split}"
            seen[verse_id] = split


def test_no_book_in_two_splits_and_all_books_present(corpus):
    books = {split: {_book(row[0]) for row in rows} for split, rows in corpus.items()}
    assert not books["train"] & books["validation"]
    assert not books["train"] & books["test"]
    assert not books["validation"] & books["test"]
    assert books["train"] | books["validation"] | books["test"] == set(BOOKS)


def test_no_empty_text(corpus):
    for rows in corpus.values():
        for verse_id, en, es in rows:
            assert en.strip() and es.strip(), verse_id


def test_no_leftover_markup_or_odd_whitespace(corpus):
    for rows in corpus.values():
        for verse_id, en, es in rows:
            for text in (en, es):
                assert not MARKUP_RE.search(text), (verse_id, text)
                assert text == " ".join(text.split()), (verse_id, "whitespace not normalised")
                assert unicodedata.is_normalized("NFC", text), verse_id


def test_total_pair_count_is_plausible(corpus):
    total = sum(len(rows) for rows in corpus.values())
    assert 30_000 <= total <= 31_102  # 31,102 verses in the KJV versification


def test_held_out_splits_are_a_few_percent(corpus):
    total = sum(len(rows) for rows in corpus.values())
    for split in ("validation", "test"):
        assert 0.02 <= len(corpus[split]) / total <= 0.06, split


def test_genesis_1_1_is_in_train_with_expected_text(corpus):
    rows = {row[0]: row for row in corpus["train"]}
    assert rows["Gen.1.1"] == (
        "Gen.1.1",
        "In the beginning God created the heaven and the earth.",
        "EN el principio crió Dios los cielos y la tierra.",
    )


def test_known_verses_are_aligned(corpus):
    rows = {row[0]: row for split_rows in corpus.values() for row in split_rows}
    # Same verse number in both modules.
    assert rows["John.3.16"][1].startswith("For God so loved the world")
    assert rows["John.3.16"][2].startswith("Porque de tal manera amó Dios al mundo")
    assert rows["Rev.22.21"][2].startswith("La gracia de nuestro Señor Jesucristo")
    # RV1909 numbers Jonah 2 from the Hebrew (its 2:1 is KJV 1:17): realigned.
    assert rows["Jonah.1.17"][1].startswith("Now the LORD had prepared a great fish")
    assert rows["Jonah.1.17"][2].startswith("MAS Jehová había prevenido un gran pez")
    # Accents are kept.
    assert "Espíritu" in rows["Gen.1.2"][2]


def test_split_counts_match_readme(corpus, readme_counts):
    assert set(readme_counts) == {"train", "validation", "test", "total"}
    for split in SPLITS:
        assert readme_counts[split][0] == len(corpus[split]), split
    assert readme_counts["total"][0] == sum(len(rows) for rows in corpus.values())


def test_split_books_match_readme(corpus, readme_counts):
    for split in ("validation", "test"):
        assert set(readme_counts[split][1]) == {_book(row[0]) for row in corpus[split]}, split
