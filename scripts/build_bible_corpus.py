#!/usr/bin/env python3
"""Rebuild the English-Spanish Bible corpus in ``keras_transformer/data/bible_en_es``.

The corpus pairs the King James Version (English, 1769 text) with the Reina-Valera
1909 (Spanish), verse by verse. Both texts are public domain and come from two SWORD
Bible modules packaged by Debian:

=================  ===============  ========================================
Debian package     SWORD module     text
=================  ===============  ========================================
sword-text-kjv     engKJV2006eb     King James Version (with Strong's numbers)
sword-text-sparv   spaRV1909eb      Reina Valera 1909 (with Strong's numbers)
=================  ===============  ========================================

Usage (from the repository root)::

    apt-get install sword-text-kjv sword-text-sparv
    python scripts/build_bible_corpus.py              # (re)write the three files
    python scripts/build_bible_corpus.py --check      # rebuild in memory, compare bytes
    python scripts/build_bible_corpus.py --report     # also list every verse that was
                                                      # realigned or dropped, and why

Dependencies: the Python (>= 3.11) standard library only. The SWORD zText format is
read directly (``read_ztext``), so neither pysword nor libsword is needed.

What the script does:

1. Reads every verse of both modules in KJV versification, with its OSIS markup.
2. Aligns the verses. Both modules declare ``Versification=KJV``, but the Spanish
   source numbers verses its own way in a few dozen places (for instance Numbers 13,
   Job 38-41, Jonah 1-2 follow the Hebrew chapter breaks, and a few verses are split
   or merged differently). When the module was built, Spanish verses past the end of
   a KJV chapter were appended to its last verse and missing ones left empty. Both
   modules tag words with Strong's numbers, which gives independent evidence of what
   each verse says: a dynamic-programming alignment over the Strong's numbers of each
   book (``align_book``) keeps verse ``n`` paired with verse ``n`` where the evidence
   agrees, re-pairs shifted verses, and drops the verses that were merged or split
   (they have no one-to-one counterpart). ``select_pairs`` also drops neighbouring
   pairs whose shared verse boundary sits in a different place in the two texts.
   ``--report`` lists every realigned and dropped verse.
3. Strips all markup (``clean_osis``): Strong's tags, footnotes and cross-references
   (removed with their content), pilcrows, Hebrew acrostic letters; keeps the text of
   psalm titles and epistle subscriptions, which the Spanish module carries as plain
   verse text; normalises whitespace and Unicode (NFC), keeping accents.
4. Splits by whole books (``TEST_BOOKS``, ``VALIDATION_BOOKS``, rest is train) and
   writes ``{train,validation,test}.tsv.gz``: a header line ``id<TAB>en<TAB>es`` and
   one verse per line in canonical order, ids like ``Gen.1.1``. The gzip header has
   no file name and mtime 0, so a rebuild from the same packages is byte-identical
   (given the same zlib, whose compressed output could in principle change).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import gzip
import html
import io
import math
import re
import struct
import sys
import unicodedata
import zlib
from pathlib import Path

SWORD_DIR = Path("/usr/share/sword")
OUT_DIR = Path(__file__).resolve().parents[1] / "keras_transformer" / "data" / "bible_en_es"
MODULES = {"en": "engKJV2006eb", "es": "spaRV1909eb"}

# Fixed splits by whole book, so that no verse (and no chapter context) leaks between
# splits. Small books of several genres (narrative, wisdom, prophecy, letters), chosen
# without close parallels in other books; each split is about 3.5% of the verses.
TEST_BOOKS = ("Ruth", "Eccl", "Dan", "Jonah", "Gal", "Phlm", "Jas", "1John")
VALIDATION_BOOKS = ("Esth", "Song", "Lam", "Joel", "Amos", "Hab", "Phil", "2Tim", "Titus", "1Pet")
SPLITS = ("train", "validation", "test")

# KJV versification as in SWORD's canon_kjv.h: OSIS book id, then the number of
# verses in each chapter. The first 39 books are the Old Testament.
KJV_VERSIFICATION = """
Gen 31 25 24 26 32 22 24 22 29 32 32 20 18 24 21 16 27 33 38 18 34 24 20 67 34 35 46 22
    35 43 55 32 20 31 29 43 36 30 23 23 57 38 34 34 28 34 31 22 33 26
Exod 22 25 22 31 23 30 25 32 35 29 10 51 22 31 27 36 16 27 25 26 36 31 33 18 40 37 21 43
    46 38 18 35 23 35 35 38 29 31 43 38
Lev 17 16 17 35 19 30 38 36 24 20 47 8 59 57 33 34 16 30 37 27 24 33 44 23 55 46 34
Num 54 34 51 49 31 27 89 26 23 36 35 16 33 45 41 50 13 32 22 29 35 41 30 25 18 65 23 31
    40 16 54 42 56 29 34 13
Deut 46 37 29 49 33 25 26 20 29 22 32 32 18 29 23 22 20 22 21 20 23 30 25 22 19 19 26 68
    29 20 30 52 29 12
Josh 18 24 17 24 15 27 26 35 27 43 23 24 33 15 63 10 18 28 51 9 45 34 16 33
Judg 36 23 31 24 31 40 25 35 57 18 40 15 25 20 20 31 13 31 30 48 25
Ruth 22 23 18 22
1Sam 28 36 21 22 12 21 17 22 27 27 15 25 23 52 35 23 58 30 24 42 15 23 29 22 44 25 12 25
    11 31 13
2Sam 27 32 39 12 25 23 29 18 13 19 27 31 39 33 37 23 29 33 43 26 22 51 39 25
1Kgs 53 46 28 34 18 38 51 66 28 29 43 33 34 31 34 34 24 46 21 43 29 53
2Kgs 18 25 27 44 27 33 20 29 37 36 21 21 25 29 38 20 41 37 37 21 26 20 37 20 30
1Chr 54 55 24 43 26 81 40 40 44 14 47 40 14 17 29 43 27 17 19 8 30 19 32 31 31 32 34 21
    30
2Chr 17 18 17 22 14 42 22 18 31 19 23 16 22 15 19 14 19 34 11 37 20 12 21 27 28 23 9 27
    36 27 21 33 25 33 27 23
Ezra 11 70 13 24 17 22 28 36 15 44
Neh 11 20 32 23 19 19 73 18 38 39 36 47 31
Esth 22 23 15 17 14 14 10 17 32 3
Job 22 13 26 21 27 30 21 22 35 22 20 25 28 22 35 22 16 21 29 29 34 30 17 25 6 14 23 28
    25 31 40 22 33 37 16 33 24 41 30 24 34 17
Ps 6 12 8 8 12 10 17 9 20 18 7 8 6 7 5 11 15 50 14 9 13 31 6 10 22 12 14 9 11 12 24 11
    22 22 28 12 40 22 13 17 13 11 5 26 17 11 9 14 20 23 19 9 6 7 23 13 11 11 17 12 8 12
    11 10 13 20 7 35 36 5 24 20 28 23 10 12 20 72 13 19 16 8 18 12 13 17 7 18 52 17 16
    15 5 23 11 13 12 9 9 5 8 28 22 35 45 48 43 13 31 7 10 10 9 8 18 19 2 29 176 7 8 9 4
    8 5 6 5 6 8 8 3 18 3 3 21 26 9 8 24 13 10 7 12 15 21 10 20 14 9 6
Prov 33 22 35 27 23 35 27 36 18 32 31 28 25 35 33 33 28 24 29 30 31 29 35 34 28 28 27 28
    27 33 31
Eccl 18 26 22 16 20 12 29 17 18 20 10 14
Song 17 17 11 16 16 13 13 14
Isa 31 22 26 6 30 13 25 22 21 34 16 6 22 32 9 14 14 7 25 6 17 25 18 23 12 21 13 29 24 33
    9 20 24 17 10 22 38 22 8 31 29 25 28 28 25 13 15 22 26 11 23 15 12 17 13 12 21 14 21
    22 11 12 19 12 25 24
Jer 19 37 25 31 31 30 34 22 26 25 23 17 27 22 21 21 27 23 15 18 14 30 40 10 38 24 22 17
    32 24 40 44 26 22 19 32 21 28 18 16 18 22 13 30 5 28 7 47 39 46 64 34
Lam 22 22 66 22 22
Ezek 28 10 27 17 17 14 27 18 11 22 25 28 23 23 8 63 24 32 14 49 32 31 49 27 17 21 36 26
    21 26 18 32 33 31 15 38 28 23 29 49 26 20 27 31 25 24 23 35
Dan 21 49 30 37 31 28 28 27 27 21 45 13
Hos 11 23 5 19 15 11 16 14 17 15 12 14 16 9
Joel 20 32 21
Amos 15 16 15 13 27 14 17 14 15
Obad 21
Jonah 17 10 10 11
Mic 16 13 12 13 15 16 20
Nah 15 13 19
Hab 17 20 19
Zeph 18 15 20
Hag 15 23
Zech 21 13 10 14 11 15 14 23 17 12 17 14 9 21
Mal 14 17 18 6
Matt 25 23 17 25 48 34 29 34 38 42 30 50 58 36 39 28 27 35 30 34 46 46 39 51 46 75 66 20
Mark 45 28 35 41 43 56 37 38 50 52 33 44 37 72 47 20
Luke 80 52 38 44 39 49 50 56 62 42 54 59 35 35 32 31 37 43 48 47 38 71 56 53
John 51 25 36 54 47 71 53 59 41 42 57 50 38 31 27 33 26 40 42 31 25
Acts 26 47 26 37 42 15 60 40 43 48 30 25 52 28 41 40 34 28 41 38 40 30 35 27 27 32 44 31
Rom 32 29 31 25 21 23 25 39 33 21 36 21 14 23 33 27
1Cor 31 16 23 21 13 20 40 13 27 33 34 31 13 40 58 24
2Cor 24 17 18 18 21 18 16 24 15 18 33 21 14
Gal 24 21 29 31 26 18
Eph 23 22 21 32 33 24
Phil 30 30 21 23
Col 29 23 25 18
1Thess 10 20 13 18 28
2Thess 12 17 18
1Tim 20 15 16 16 25 21
2Tim 18 26 17 22
Titus 16 15 15
Phlm 25
Heb 14 18 19 16 14 20 28 13 28 39 40 29 25
Jas 27 26 18 17 20
1Pet 25 25 22 19 14
2Pet 21 22 18
1John 10 29 24 21 21
2John 13
3John 14
Jude 25
Rev 20 29 22 11 14 17 17 13 21 11 19 17 18 20 8 21 18 24 21 15 27 21
"""
OT_BOOK_COUNT = 39

# Alignment parameters (see ``align_book``).
MAX_SHIFT = 12  # how far (in verses) a Spanish verse may sit from its KJV slot
SAME_SLOT_BONUS = 0.1  # prior that verse n of one module is verse n of the other
MIN_SIMILARITY = 0.3  # Strong's similarity below which a pair needs support from context
BOUNDARY_GAIN = 0.1  # verse-boundary test, see ``select_pairs``
BOUNDARY_CROSSING = 0.07

# Enclitic pronouns. The Spanish module sometimes tags a verb and its enclitic as two
# adjacent words (``<w>díjo</w><w>le</w>``); see ``TagJointResolver``.
ENCLITICS = frozenset("me te se le les lo los la las nos os".split())

NOTE_RE = re.compile(r"<note\b[^>]*>.*?</note>", re.DOTALL)
TAG_RE = re.compile(r"<[^>]*>")
# Empty elements (<lb/>, <l sID=".."/>, <div .../>, milestones) mark line, paragraph
# or poetry breaks, i.e. word boundaries.
EMPTY_TAG_RE = re.compile(r"<[^>]*/>")
# Two word characters separated only by tags (no space): an ambiguous word boundary.
TAG_JOINT_RE = re.compile(r"(\w+)((?:<[^>]*>)+)(?=(\w+))")
LEMMA_RE = re.compile(r'lemma="([^"]*)"')
STRONGS_RE = re.compile(r"strong:([GH])0*(\d+)")
# Hebrew letters only occur in the KJV's acrostic headings of Psalm 119 ("ב BETH.");
# the Spanish module writes just the letter's name.
HEBREW_RE = re.compile(r"[\u0590-\u05FF]+")


# --------------------------------------------------------------------------- reading


def kjv_books() -> list[tuple[str, tuple[int, ...]]]:
    """Return ``[(osis_book_id, verses_per_chapter), ...]`` in canonical order."""
    books: list[tuple[str, list[int]]] = []
    for token in KJV_VERSIFICATION.split():
        if token.isdigit():
            books[-1][1].append(int(token))
        else:
            books.append((token, []))
    return [(name, tuple(chapters)) for name, chapters in books]


def read_conf(sword_dir: Path, module: str) -> dict[str, str]:
    """Parse a module's ``mods.d/*.conf`` (first value wins for repeated keys)."""
    conf_path = sword_dir / "mods.d" / f"{module}.conf"
    if not conf_path.exists():  # SWORD's convention is lower case; Debian keeps the case
        conf_path = conf_path.with_name(f"{module.lower()}.conf")
    conf: dict[str, str] = {}
    for line in conf_path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            conf.setdefault(key.strip(), value.strip())
    return conf


def read_ztext(sword_dir: Path, module: str) -> dict[str, str]:
    """Read every verse of a zText module as ``{"Gen.1.1": raw OSIS text}``.

    zText stores, per testament, three files: ``.bzz`` (zlib-compressed blocks),
    ``.bzs`` (per block: offset, compressed size, uncompressed size; 3 x uint32) and
    ``.bzv`` (per index slot: block number, offset in the block, length; uint32,
    uint32, uint16). The slots follow the versification: slot 0 is the module
    heading, slot 1 the testament heading, then each book has a heading slot and
    each chapter a heading slot followed by one slot per verse.
    """
    conf = read_conf(sword_dir, module)
    expected = {"ModDrv": "zText", "CompressType": "ZIP", "Encoding": "UTF-8",
                "SourceType": "OSIS", "Versification": "KJV"}
    for key, value in expected.items():
        if conf.get(key, "").lower() != value.lower():
            raise ValueError(f"{module}: {key}={conf.get(key)!r}, this reader expects {value!r}")
    data_dir = sword_dir / conf["DataPath"]
    block_letter = conf.get("BlockType", "CHAPTER")[0].lower()  # b(ook)/c(hapter)/v(erse)

    books = kjv_books()
    verses: dict[str, str] = {}
    testaments = (("ot", books[:OT_BOOK_COUNT]), ("nt", books[OT_BOOK_COUNT:]))
    for testament, testament_books in testaments:
        prefix = data_dir / f"{testament}.{block_letter}z"
        blocks_index = Path(f"{prefix}s").read_bytes()
        verse_index = Path(f"{prefix}v").read_bytes()
        compressed = Path(f"{prefix}z").read_bytes()

        blocks = []
        for offset, size, raw_size in struct.iter_unpack("<III", blocks_index):
            block = zlib.decompress(compressed[offset:offset + size])
            if len(block) != raw_size:
                raise ValueError(f"{module}: corrupt block at offset {offset}")
            blocks.append(block)
        slots = list(struct.iter_unpack("<IIH", verse_index))

        slot = 2  # skip the module and testament headings
        for book, chapters in testament_books:
            slot += 1  # book heading
            for chapter, verse_count in enumerate(chapters, start=1):
                slot += 1  # chapter heading
                for verse in range(1, verse_count + 1):
                    block, offset, size = slots[slot]
                    text = blocks[block][offset:offset + size] if size else b""
                    verses[f"{book}.{chapter}.{verse}"] = text.decode("utf-8")
                    slot += 1
        # Every slot must be accounted for, otherwise the versification is wrong.
        if slot != len(slots):
            raise ValueError(f"{module}/{testament}: {len(slots)} index slots, KJV needs {slot}")
    return verses


# -------------------------------------------------------------------------- cleaning


def strongs_numbers(raw: str) -> frozenset[str]:
    """Strong's numbers tagged in a verse (footnotes excluded), e.g. ``{"H430"}``."""
    raw = NOTE_RE.sub("", raw)
    return frozenset(
        letter + number
        for lemma in LEMMA_RE.findall(raw)
        for letter, number in STRONGS_RE.findall(lemma)
    )


class TagJointResolver:
    """Decide whether two words separated only by markup form one word or two.

    The Spanish module has about 600 places where two tagged words touch without a
    space (``<w>casa</w><w>que</w>``). Most are real word boundaries, but some split a
    verb from its enclitic pronoun (``<w>díjo</w><w>le</w>`` is "díjole"). The module
    itself is the dictionary: the joined word and the two-word sequence are counted in
    the rest of the text, and the more frequent reading wins. Unseen enclitic cases
    are joined when the first part is not a word on its own (``díjo``, ``púse``: old
    orthography marks the stress of the verb-plus-pronoun form) or is an infinitive
    or a vosotros imperative (ends in -r or -d), which take enclitics.
    """

    def __init__(self, raw_verses):
        self.words: collections.Counter[str] = collections.Counter()
        self.bigrams: collections.Counter[tuple[str, str]] = collections.Counter()
        for raw in raw_verses:
            # Replace the first word of every ambiguous joint by a barrier, so the
            # joints do not count as evidence for themselves.
            text = EMPTY_TAG_RE.sub(" ", NOTE_RE.sub("", raw))
            text = TAG_JOINT_RE.sub(" | ", text)
            tokens = re.findall(r"\w+|\|", TAG_RE.sub(" ", text).lower())
            self.words.update(tokens)
            self.bigrams.update(zip(tokens, tokens[1:]))

    def joins(self, left: str, right: str) -> bool:
        left, right = left.lower(), right.lower()
        if right not in ENCLITICS:
            return False
        joined, spaced = self.words[left + right], self.bigrams[(left, right)]
        if joined != spaced:
            return joined > spaced
        return self.words[left] == 0 or left.endswith(("r", "d"))

    def __call__(self, raw: str) -> str:
        def replace(match: re.Match) -> str:
            left, tags, right = match.groups()
            return left + tags + ("" if self.joins(left, right) else " ")

        return TAG_JOINT_RE.sub(replace, raw)


def clean_osis(raw: str, resolve_joints=None) -> str:
    """Turn a verse's OSIS markup into plain text.

    Footnotes and cross-references (``<note>``) are editorial and go with their
    content. Every other element keeps its text: ``<w>`` (Strong's), ``<transChange>``
    (words the translators added, printed in italics), ``<divineName>``, ``<q>``
    (words of Jesus), ``<title>`` (psalm titles, Psalm 119 acrostic headings, epistle
    subscriptions; the Spanish module has these as plain text inside the verse).
    """
    text = EMPTY_TAG_RE.sub(" ", NOTE_RE.sub("", raw))
    if resolve_joints is not None:
        text = resolve_joints(text)
    text = html.unescape(TAG_RE.sub("", text))
    text = HEBREW_RE.sub("", text.replace("\u00b6", ""))  # pilcrow, acrostic letters
    return unicodedata.normalize("NFC", " ".join(text.split()))


# ------------------------------------------------------------------------- alignment


@dataclasses.dataclass(frozen=True)
class Bead:
    """One step of an alignment: EN verses ``en`` paired with ES slots ``es``."""

    en: tuple[int, ...]
    es: tuple[int, ...]
    similarity: float


class StrongsSimilarity:
    """IDF-weighted Jaccard similarity of two sets of Strong's numbers.

    Weighting by inverse document frequency (a verse is a document) keeps very common
    words (article, "and", "LORD") from making neighbouring verses look alike.
    """

    def __init__(self, sets):
        document_frequency = collections.Counter(number for s in sets for number in s)
        total = len(sets)
        self.idf = {n: math.log(total / count) for n, count in document_frequency.items()}

    def weight(self, numbers) -> float:
        # fsum is exact, so the result does not depend on set iteration order (which
        # changes with PYTHONHASHSEED); this keeps the build deterministic.
        return math.fsum(self.idf[n] for n in numbers)

    def __call__(self, a: frozenset[str], b: frozenset[str]) -> float:
        union = self.weight(a | b)
        return self.weight(a & b) / union if union else 0.0


def align_book(en_sets, es_sets, en_texts, es_texts, similarity) -> list[Bead]:
    """Align one book's EN verses with its ES slots (same KJV order, same count).

    A monotone alignment maximising total similarity, computed by dynamic
    programming within ``MAX_SHIFT`` of the diagonal. Steps: 1-1 (a verse pair),
    2-1 and 1-2 (verses merged on one side), and 1-0 / 0-1 (a verse with no
    counterpart). A 1-1 step between the same verse number earns ``SAME_SLOT_BONUS``,
    so the modules' shared numbering wins wherever the evidence does not clearly
    point elsewhere (and in repeated passages, where several slots look alike).
    """
    n = len(en_sets)
    steps = ((1, 1), (2, 1), (1, 2), (1, 0), (0, 1))
    score = {(0, 0): 0.0}
    back: dict[tuple[int, int], tuple[tuple[int, int], Bead]] = {}
    for i in range(n + 1):
        for j in range(max(0, i - MAX_SHIFT), min(n, i + MAX_SHIFT) + 1):
            if (i, j) not in score:
                continue
            for di, dj in steps:
                ti, tj = i + di, j + dj
                if ti > n or tj > n or abs(ti - tj) > MAX_SHIFT:
                    continue
                en_idx, es_idx = tuple(range(i, ti)), tuple(range(j, tj))
                if di + dj == 3 and not all([en_sets[k] for k in en_idx]
                                            + [es_sets[k] for k in es_idx]):
                    # An empty verse adds no evidence to a merge; letting a merge
                    # absorb it would hide the clean 1-1 pair next to it.
                    continue
                if di and dj:
                    sim = similarity(frozenset().union(*(en_sets[k] for k in en_idx)),
                                     frozenset().union(*(es_sets[k] for k in es_idx)))
                    gain = sim
                    if (di, dj) == (1, 1) and i == j and en_texts[i] and es_texts[j]:
                        gain += SAME_SLOT_BONUS
                else:
                    sim = gain = 0.0
                new = score[(i, j)] + gain
                if new > score.get((ti, tj), -math.inf):
                    score[(ti, tj)] = new
                    back[(ti, tj)] = ((i, j), Bead(en_idx, es_idx, sim))
    beads = []
    state = (n, n)
    while state != (0, 0):
        state, bead = back[state]
        beads.append(bead)
    return beads[::-1]


def is_same_slot_pair(bead: Bead | None) -> bool:
    """True for a 1-1 bead pairing verse n with verse n (None: the book's edge)."""
    return bead is None or (len(bead.en) == len(bead.es) == 1 and bead.en == bead.es)


def select_pairs(beads, en_sets, es_sets, en_texts, es_texts, similarity):
    """Turn a book's alignment into verse pairs ``(i, j)`` and dropped verses.

    Returns ``(pairs, dropped)``: ``pairs`` lists ``(en_index, es_index,
    kept_on_context)`` in order, ``dropped`` lists ``(en_index, reason)``.
    """
    pairs, dropped = [], []
    for k, bead in enumerate(beads):
        if not bead.en:
            continue  # an ES slot with no EN counterpart (empty, or merged away)
        if len(bead.en) != 1 or len(bead.es) != 1:
            if bead.es:
                reason = "merged or split differently in RV1909"
            elif not es_texts[bead.en[0]]:
                reason = "empty in RV1909"
            else:
                reason = "no RV1909 counterpart"
            dropped.extend((i, reason) for i in bead.en)
            continue
        (i,), (j,) = bead.en, bead.es
        if not en_texts[i] or not es_texts[j]:
            dropped.append((i, "empty text"))
            continue
        on_context = False
        if bead.similarity < MIN_SIMILARITY:
            # Weak Strong's evidence (free translation, sparse tagging): keep the
            # pair only if it is verse n = verse n between two such pairs.
            before = beads[k - 1] if k > 0 else None
            after = beads[k + 1] if k + 1 < len(beads) else None
            if not (i == j and is_same_slot_pair(before) and is_same_slot_pair(after)):
                dropped.append((i, "low similarity"))
                continue
            on_context = True
        pairs.append((i, j, on_context))

    # Two consecutive pairs can still straddle a verse boundary that the modules put
    # in different places (a clause at the end of verse n in one is at the start of
    # verse n+1 in the other). Both pairs are dropped when (a) the two verses taken
    # together match clearly better than each pair on its own, and (b) part of each
    # side is found only across the boundary. (b) keeps near-identical neighbours
    # ("... in man." / "... in princes.") that satisfy (a) by accident.
    straddling = set()
    for (i1, j1, _), (i2, j2, _) in zip(pairs, pairs[1:]):
        e1, e2, s1, s2 = en_sets[i1], en_sets[i2], es_sets[j1], es_sets[j2]
        if i2 != i1 + 1 or j2 != j1 + 1 or not (e1 and e2 and s1 and s2):
            continue
        separate = (similarity(e1, s1) + similarity(e2, s2)) / 2
        together = similarity(e1 | e2, s1 | s2)
        crossing = similarity.weight((e2 & s1) - s2 - e1) + similarity.weight((e1 & s2) - s1 - e2)
        if (together - separate >= BOUNDARY_GAIN
                and crossing >= BOUNDARY_CROSSING * similarity.weight(e1 | e2)):
            straddling.update((i1, i2))
    dropped.extend((i, "verse boundary differs") for i, _, _ in pairs if i in straddling)
    pairs = [pair for pair in pairs if pair[0] not in straddling]
    return pairs, sorted(dropped)


# Why a KJV verse has no pair in the corpus (see ``select_pairs``).
DROP_REASONS = (
    "empty text",  # a 1-1 pair with an empty side
    "empty in RV1909",  # no counterpart, and its own RV1909 slot is empty
    "no RV1909 counterpart",
    "merged or split differently in RV1909",
    "verse boundary differs",
    "low similarity",
)


@dataclasses.dataclass
class Corpus:
    """Aligned pairs in canonical order, plus what happened to the other verses."""

    pairs: list[tuple[str, str, str]]
    realigned: list[tuple[str, str]]  # (EN id, id of the ES slot paired with it)
    supported_by_context: list[str]  # low-similarity same-slot pairs kept
    dropped: dict[str, list[str]]  # reason -> EN ids


def build_corpus(sword_dir: Path) -> Corpus:
    """Read, clean and align both modules."""
    raw = {lang: read_ztext(sword_dir, module) for lang, module in MODULES.items()}
    resolvers = {lang: TagJointResolver(raw[lang].values()) for lang in raw}
    strongs_sets = {lang: {vid: strongs_numbers(text) for vid, text in verses.items()}
                    for lang, verses in raw.items()}
    similarity = StrongsSimilarity([s for sets in strongs_sets.values() for s in sets.values()])

    corpus = Corpus([], [], [], {reason: [] for reason in DROP_REASONS})
    verse_ids = list(raw["en"])
    for book, _ in kjv_books():
        ids = [vid for vid in verse_ids if vid.split(".", 1)[0] == book]
        texts = {lang: [clean_osis(raw[lang][vid], resolvers[lang]) for vid in ids]
                 for lang in raw}
        sets = {lang: [strongs_sets[lang][vid] for vid in ids] for lang in raw}
        beads = align_book(sets["en"], sets["es"], texts["en"], texts["es"], similarity)
        pairs, dropped = select_pairs(beads, sets["en"], sets["es"], texts["en"], texts["es"],
                                      similarity)
        for i, reason in dropped:
            corpus.dropped[reason].append(ids[i])
        for i, j, on_context in pairs:
            if on_context:
                corpus.supported_by_context.append(ids[i])
            if i != j:
                corpus.realigned.append((ids[i], ids[j]))
            corpus.pairs.append((ids[i], texts["en"][i], texts["es"][j]))
    return corpus


# --------------------------------------------------------------------------- writing


def split_of(verse_id: str) -> str:
    book = verse_id.split(".", 1)[0]
    if book in TEST_BOOKS:
        return "test"
    if book in VALIDATION_BOOKS:
        return "validation"
    return "train"


def encode_split(pairs) -> bytes:
    """Gzip-compressed TSV with a header; no file name and mtime 0 in the gzip header."""
    lines = ["id\ten\tes"] + ["\t".join(pair) for pair in pairs]
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as f:
        f.write(("\n".join(lines) + "\n").encode("utf-8"))
    return buffer.getvalue()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sword-dir", type=Path, default=SWORD_DIR)
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 unless the files on disk are identical")
    parser.add_argument("--report", action="store_true",
                        help="list every realigned, context-supported and dropped verse")
    args = parser.parse_args(argv)

    known_books = {book for book, _ in kjv_books()}
    assert set(TEST_BOOKS) <= known_books and set(VALIDATION_BOOKS) <= known_books
    assert not set(TEST_BOOKS) & set(VALIDATION_BOOKS)

    corpus = build_corpus(args.sword_dir)
    for _, en, es in corpus.pairs:
        # The TSV has no quoting: make sure nothing can break a row.
        assert "\t" not in en + es and "\n" not in en + es

    by_split = {split: [] for split in SPLITS}
    for pair in corpus.pairs:
        by_split[split_of(pair[0])].append(pair)

    total_verses = sum(sum(chapters) for _, chapters in kjv_books())
    dropped = sum(len(v) for v in corpus.dropped.values())
    print(f"KJV verses: {total_verses}; pairs kept: {len(corpus.pairs)}; dropped: {dropped}")
    for reason, verse_ids in corpus.dropped.items():
        print(f"  dropped, {reason}: {len(verse_ids)}")
    print(f"  kept with the RV1909 text of another slot (realigned): {len(corpus.realigned)}")
    print(f"  kept on context despite low Strong's similarity: {len(corpus.supported_by_context)}")
    if args.report:
        for en_id, es_id in corpus.realigned:
            print(f"  realigned {en_id} <- RV1909 slot {es_id}")
        for verse_id in corpus.supported_by_context:
            print(f"  context   {verse_id}")
        for reason, verse_ids in corpus.dropped.items():
            if verse_ids:
                print(f"  dropped   ({reason}): {' '.join(verse_ids)}")

    mismatches = 0
    total_bytes = 0
    for split in SPLITS:
        data = encode_split(by_split[split])
        path = args.out_dir / f"{split}.tsv.gz"
        total_bytes += len(data)
        books = sorted({vid.split(".", 1)[0] for vid, _, _ in by_split[split]})
        print(f"{split:>10}: {len(by_split[split]):6d} pairs, {len(books):2d} books, "
              f"{len(data) / 1e6:.2f} MB  {path}")
        if args.check:
            if not path.exists() or path.read_bytes() != data:
                print(f"  DIFFERS: {path}")
                mismatches += 1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    print(f"     total: {len(corpus.pairs):6d} pairs, {total_bytes / 1e6:.2f} MB compressed")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
