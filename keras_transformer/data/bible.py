"""The built-in English-Spanish Bible corpus as a TensorFlow Datasets builder.

Importing this module (or `keras_transformer.data`) registers the dataset
`bible_en_es` with TFDS, so `tfds.load("bible_en_es", data_dir=...)` works
like any other TFDS dataset. Nothing is downloaded: the examples come from
the gzip TSV files shipped in `keras_transformer/data/bible_en_es/` (see the
README there for provenance, licence, alignment and split definitions), and
preparing all three splits takes a few seconds.
"""

import gzip
import importlib.resources
import logging

import tensorflow_datasets as tfds

logger = logging.getLogger(__name__)

CORPUS_PACKAGE = "keras_transformer.data.bible_en_es"
LANGUAGES = ("en", "es")
SPLITS = ("train", "validation", "test")
HEADER = "id\ten\tes"

_DESCRIPTION = """\
English-Spanish parallel corpus of Bible verses: the King James Version
(English, 1769 text) paired verse by verse with the Reina-Valera 1909
(Spanish). 30,987 pairs, split by whole books into train (28,841),
validation (1,049: Esth, Song, Lam, Joel, Amos, Hab, Phil, 2Tim, Titus,
1Pet) and test (1,097: Ruth, Eccl, Dan, Jonah, Gal, Phlm, Jas, 1John).

Provenance: built by scripts/build_bible_corpus.py from the SWORD modules
engKJV2006eb (Debian package sword-text-kjv 14.3-1) and spaRV1909eb
(sword-text-sparv 2.60-1), produced by eBible.org and distributed by the
CrossWire Bible Society. Markup and footnotes are stripped, text is NFC with
accents kept, and verses are aligned on their Strong's numbers (174 pairs
realigned, 115 verses without a one-to-one counterpart dropped).

Licence: public domain (both modules: "Copyright=PUBLIC DOMAIN"; the KJV is
under Crown letters patent inside the United Kingdom only).

Features: `en` and `es`, the verse texts, as in a
`tfds.features.Translation(languages=("en", "es"))`, plus `id`, the verse
as `Book.chapter.verse` (OSIS book names, KJV numbering). Examples are in
canonical Bible order.
"""

_CITATION = """\
@misc{kjv1769,
  title = {The Holy Bible, King James Version (1769 Oxford text)},
  note = {SWORD module engKJV2006eb 14.3, eBible.org, public domain},
  howpublished = {\\url{https://ebible.org/eng-kjv2006/}},
}
@misc{rv1909,
  title = {Santa Biblia, Reina-Valera 1909},
  note = {SWORD module spaRV1909eb 2.60, eBible.org, public domain},
  howpublished = {\\url{https://ebible.org/spaRV1909/}},
}
"""


class BibleEnEs(tfds.core.GeneratorBasedBuilder):
    """TFDS builder of `bible_en_es`: KJV / Reina-Valera 1909 verse pairs.

    Features: `{"en": Text, "es": Text, "id": Text}`. A
    `tfds.features.Translation` has no room for a third feature, and TFDS
    supervised keys must be top-level features, so the texts sit at the top
    level with the same keys a `Translation` would give them;
    `as_supervised=True` yields `(en, es)` pairs.

    Example:

    >>> builder = tfds.builder("bible_en_es")
    >>> builder.info.supervised_keys
    ('en', 'es')
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "KJV (1769) / RV1909 verse pairs, 30,987 in all."}

    def _info(self):
        features = {language: tfds.features.Text() for language in LANGUAGES}
        features["id"] = tfds.features.Text(doc="Verse id, Book.chapter.verse")
        return tfds.core.DatasetInfo(
            builder=self,
            description=_DESCRIPTION,
            features=tfds.features.FeaturesDict(features),
            supervised_keys=LANGUAGES,
            # Canonical order: reproducible, and `shuffle` belongs in the
            # training pipeline, not in the files.
            disable_shuffling=True,
            homepage="https://ebible.org/",
            citation=_CITATION,
            license="Public domain",
            redistribution_info={"license": "Public domain"},
        )

    # TFDS prints "Downloading and preparing dataset ..." to stdout around
    # `download_and_prepare`; nothing is downloaded here, so say so in the log.
    def _log_download_bytes(self):
        logger.info(
            "Preparing %s from the corpus files shipped in %s (no download) "
            "into %s.", self.name, CORPUS_PACKAGE, self.data_dir,
        )

    def _log_download_done(self):
        logger.info("Prepared %s in %s.", self.name, self.data_dir)

    def _split_generators(self, dl_manager):
        del dl_manager  # The corpus ships with the package.
        return {split: self._generate_examples(split) for split in SPLITS}

    def _generate_examples(self, split):
        resource = importlib.resources.files(CORPUS_PACKAGE) / f"{split}.tsv.gz"
        with resource.open("rb") as raw, gzip.open(
            raw, "rt", encoding="utf-8", newline="\n"
        ) as lines:
            header = next(lines, "").rstrip("\n")
            if header != HEADER:
                raise ValueError(
                    f"Corpus file {resource} must start with the header "
                    f"{HEADER!r}. Received: {header!r}"
                )
            for line_number, line in enumerate(lines, start=2):
                fields = line.rstrip("\n").split("\t")
                if len(fields) != 3:
                    raise ValueError(
                        f"Corpus file {resource}, line {line_number}: expected "
                        f"3 tab-separated fields (id, en, es). Received: "
                        f"{len(fields)} fields"
                    )
                verse_id, english, spanish = fields
                yield verse_id, {"id": verse_id, "en": english, "es": spanish}
