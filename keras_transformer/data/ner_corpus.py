"""The built-in NER corpus `bible_ner` as a TensorFlow Datasets builder.

Importing this module (or `keras_transformer.data`) registers `bible_ner`
with TFDS. Nothing is downloaded: the examples come from the CoNLL files
shipped in `keras_transformer/data/bible_ner/`, and preparing the three
splits takes a few seconds. The corpus is *silver standard* (annotated by a
gazetteer and rules, not by people) and small; scores on it are not
CoNLL-2003 scores. See the README there.
"""

import importlib.resources

from keras_transformer.data import conll

CORPUS_PACKAGE = "keras_transformer.data.bible_ner"
SPLITS = ("train", "validation", "test")

_DESCRIPTION = """\
Silver-standard English named-entity corpus: King James Bible verses split
into words and tagged in IOB2 with PER (people), LOC (places, and nations,
kingdoms and tribes named like their land) and NORP (peoples and groups) by
a gazetteer built from Strong's dictionaries and a few rules
(scripts/build_ner_corpus.py); machine-annotated, not checked by people, so
some tags are wrong. Split by whole books like `bible_en_es`: train 3,833
verses, validation 1,039 (Esth, Song, Lam, Joel, Amos, Hab, Phil, 2Tim,
Titus, 1Pet), test 1,075 (Ruth, Eccl, Dan, Jonah, Gal, Phlm, Jas, 1John).
Scores on it are not comparable with CoNLL-2003 scores.

Licence: public domain (KJV module engKJV2006eb, Strong's Hebrew and Greek
dictionaries, from CrossWire SWORD modules packaged by Debian).
"""


class BibleNer(conll.ConllFilesBuilder):
    """TFDS builder of `bible_ner`: KJV verses with silver PER/LOC/NORP tags.

    Features: `{"tokens": Sequence(Text), "tags": Sequence(ClassLabel)}`;
    the tag names are read from the shipped files.

    Example:

    >>> import tensorflow_datasets as tfds
    >>> builder = tfds.builder("bible_ner", data_dir=getfixture("tmp_path"))
    >>> builder.info.features["tags"].feature.names
    ['O', 'B-LOC', 'B-NORP', 'B-PER', 'I-PER']
    """

    name = "bible_ner"
    VERSION = conll.ConllFilesBuilder.VERSION
    RELEASE_NOTES = {"1.0.0": "KJV verses, silver IOB2 tags (PER, LOC, NORP)."}
    DESCRIPTION = _DESCRIPTION
    HOMEPAGE = "https://ebible.org/eng-kjv2006/"
    LICENSE = "Public domain"

    def __init__(self, **kwargs):
        kwargs.pop("config", None)  # One configuration, made from the files.
        package = importlib.resources.files(CORPUS_PACKAGE)
        super().__init__(
            split_files={split: [package / f"{split}.conll.gz"] for split in SPLITS},
            config_name="iob2",
            **kwargs,
        )
