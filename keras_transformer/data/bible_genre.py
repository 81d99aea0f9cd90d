"""The built-in text classification set `bible_genre` as a TFDS builder.

Importing this module (or `keras_transformer.data`) registers `bible_genre`
with TFDS. Nothing is downloaded: the verses are the English side of the
built-in `bible_en_es` corpus (the files shipped in
`keras_transformer/data/bible_en_es/`), labelled with the section of the
Bible their book belongs to, and split by whole books so that the
validation and test books are never seen in training.
"""

import dataclasses
import gzip
import importlib.resources
import logging

import tensorflow_datasets as tfds

from keras_transformer.data import bible

logger = logging.getLogger(__name__)

# The six sections of the Christian canon, in canonical order, with the
# books (OSIS names) of each split. Every book of `bible_en_es` is in
# exactly one place; `BibleGenre` checks that while reading.
GENRES = (
    "Law",
    "History",
    "Poetry and Wisdom",
    "Prophets",
    "Gospels and Acts",
    "Epistles and Revelation",
)
BOOKS = {
    "Law": {
        "train": ("Gen", "Exod", "Num"),
        "validation": ("Lev",),
        "test": ("Deut",),
    },
    "History": {
        "train": ("Josh", "Judg", "1Sam", "2Sam", "1Kgs", "2Kgs", "1Chr", "2Chr"),
        "validation": ("Neh", "Esth"),
        "test": ("Ruth", "Ezra"),
    },
    "Poetry and Wisdom": {
        "train": ("Job", "Ps", "Prov"),
        "validation": ("Song",),
        "test": ("Eccl",),
    },
    "Prophets": {
        "train": ("Isa", "Jer", "Ezek", "Hos", "Obad", "Mic", "Nah", "Zeph",
                  "Hag", "Zech", "Mal"),
        "validation": ("Lam", "Joel", "Amos", "Hab"),
        "test": ("Dan", "Jonah"),
    },
    "Gospels and Acts": {
        "train": ("Matt", "Mark", "Luke"),
        "validation": ("Acts",),
        "test": ("John",),
    },
    "Epistles and Revelation": {
        "train": ("Rom", "1Cor", "2Cor", "Eph", "Col", "1Thess", "2Thess", "1Tim",
                  "Heb", "2Pet", "2John", "3John", "Jude", "Rev"),
        "validation": ("Phil", "2Tim", "Titus", "1Pet"),
        "test": ("Gal", "Phlm", "Jas", "1John"),
    },
}
SPLITS = ("train", "validation", "test")
# The KJV's book order; the verses of a section are sampled in this order.
CANONICAL_ORDER = (
    "Gen", "Exod", "Lev", "Num", "Deut", "Josh", "Judg", "Ruth", "1Sam", "2Sam",
    "1Kgs", "2Kgs", "1Chr", "2Chr", "Ezra", "Neh", "Esth", "Job", "Ps", "Prov",
    "Eccl", "Song", "Isa", "Jer", "Lam", "Ezek", "Dan", "Hos", "Joel", "Amos",
    "Obad", "Jonah", "Mic", "Nah", "Hab", "Zeph", "Hag", "Zech", "Mal", "Matt",
    "Mark", "Luke", "John", "Acts", "Rom", "1Cor", "2Cor", "Gal", "Eph", "Phil",
    "Col", "1Thess", "2Thess", "1Tim", "2Tim", "Titus", "Phlm", "Heb", "Jas",
    "1Pet", "2Pet", "1John", "2John", "3John", "Jude", "Rev",
)
BOOK_PLACES = {
    book: (genre, split)
    for genre, splits in BOOKS.items()
    for split, books in splits.items()
    for book in books
}

_DESCRIPTION = """\
Verse classification by section of the Bible: King James Version verses
(the English side of the built-in `bible_en_es` corpus) labelled with one
of six sections of the Christian canon: Law (Genesis-Deuteronomy), History
(Joshua-Esther), Poetry and Wisdom (Job-Song of Solomon), Prophets
(Isaiah-Malachi, with Lamentations and Daniel), Gospels and Acts, Epistles
and Revelation. Split by whole books, so that the validation and test books
are never seen in training: validation Lev, Neh, Esth, Song, Lam, Joel,
Amos, Hab, Acts, Phil, 2Tim, Titus, 1Pet; test Deut, Ruth, Ezra, Eccl, Dan,
Jonah, John, Gal, Phlm, Jas, 1John; train the other 42 books.

Configs: `balanced` (the default) is a fixed, class-balanced sample, small
enough to fine-tune on two CPU cores in minutes: for each section and
split, verses evenly spaced through its books in canonical order, 200 per
section for train, 40 for validation and 80 for test (1,200 / 240 / 480).
`all` holds every verse (24,461 / 3,311 / 3,215; not balanced).

Licence: public domain (KJV module engKJV2006eb; see `bible_en_es`).
"""


@dataclasses.dataclass
class BibleGenreConfig(tfds.core.BuilderConfig):
    """A `bible_genre` config: verses per section and split (`None`: all)."""

    per_genre: dict | None = None


class BibleGenre(tfds.core.GeneratorBasedBuilder):
    """TFDS builder of `bible_genre`: KJV verses labelled with their section.

    Features: `{"text": Text, "label": ClassLabel(names=GENRES), "id":
    Text, "book": Text}`; supervised keys `("text", "label")`.

    Example:

    >>> builder = tfds.builder("bible_genre", data_dir=getfixture("tmp_path"))
    >>> builder.info.features["label"].names[:2]
    ['Law', 'History']
    >>> builder.download_and_prepare()
    >>> builder.info.splits["test"].num_examples
    480
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Six sections, split by book; balanced and all."}
    BUILDER_CONFIGS = [
        BibleGenreConfig(
            name="balanced",
            description="200 / 40 / 80 verses per section, evenly spaced.",
            per_genre={"train": 200, "validation": 40, "test": 80},
        ),
        BibleGenreConfig(name="all", description="Every verse."),
    ]
    DEFAULT_CONFIG_NAME = "balanced"

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=_DESCRIPTION,
            features=tfds.features.FeaturesDict({
                "text": tfds.features.Text(),
                "label": tfds.features.ClassLabel(names=GENRES),
                "id": tfds.features.Text(doc="Verse id, Book.chapter.verse"),
                "book": tfds.features.Text(doc="OSIS book name"),
            }),
            supervised_keys=("text", "label"),
            disable_shuffling=True,
            homepage="https://ebible.org/eng-kjv2006/",
            license="Public domain",
            redistribution_info={"license": "Public domain"},
        )

    def _log_download_bytes(self):
        logger.info(
            "Preparing %s from the corpus files shipped in %s (no download) "
            "into %s.", self.name, bible.CORPUS_PACKAGE, self.data_dir,
        )

    def _log_download_done(self):
        logger.info("Prepared %s in %s.", self.name, self.data_dir)

    def _split_generators(self, dl_manager):
        del dl_manager  # The corpus ships with the package.
        by_place = {}
        # Each corpus file is in canonical order; the stable sort merges them.
        verses = sorted(_english_verses(),
                        key=lambda verse: CANONICAL_ORDER.index(verse[0].split(".")[0]))
        for verse_id, text in verses:
            book = verse_id.split(".")[0]
            if book not in BOOK_PLACES:
                raise ValueError(
                    f"Book {book!r} of verse {verse_id} has no section in "
                    "bible_genre.BOOKS: every book of bible_en_es must have one."
                )
            by_place.setdefault(BOOK_PLACES[book], []).append((verse_id, text))
        missing = sorted(set(BOOK_PLACES) - {i.split(".")[0] for p in by_place.values()
                                             for i, _ in p})
        if missing:
            raise ValueError(f"bible_genre.BOOKS names books without verses: {missing}")
        return {
            split: self._generate_examples(by_place, split) for split in SPLITS
        }

    def _generate_examples(self, by_place, split):
        for genre in GENRES:
            verses = by_place[(genre, split)]
            count = (self.builder_config.per_genre or {}).get(split)
            for verse_id, text in evenly_spaced(verses, count):
                yield verse_id, {"text": text, "label": genre, "id": verse_id,
                                 "book": verse_id.split(".")[0]}


def evenly_spaced(items, count):
    """`count` items spread evenly through `items` (all of them for `None`).

    Item `floor((j + 1/2) n / count)` for `j < count`: the middle of each of
    `count` equal stretches, so every part of the list is represented.

    >>> evenly_spaced(list(range(10)), 3)
    [1, 5, 8]
    """
    if count is None or count >= len(items):
        return list(items)
    return [items[int((j + 0.5) * len(items) / count)] for j in range(count)]


def _english_verses():
    """`(id, English text)` of every verse of `bible_en_es`, in canonical order."""
    files = importlib.resources.files(bible.CORPUS_PACKAGE)
    for split in bible.SPLITS:
        with (files / f"{split}.tsv.gz").open("rb") as raw, gzip.open(
            raw, "rt", encoding="utf-8", newline="\n"
        ) as lines:
            header = next(lines, "").rstrip("\n")
            if header != bible.HEADER:
                raise ValueError(
                    f"Corpus file {split}.tsv.gz must start with the header "
                    f"{bible.HEADER!r}. Received: {header!r}"
                )
            for line in lines:
                verse_id, english, _ = line.rstrip("\n").split("\t")
                yield verse_id, english
