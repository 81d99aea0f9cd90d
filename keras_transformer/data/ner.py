"""Named-entity data as `tf.data`: the built-in corpus, TFDS, or your files.

`load_ner` returns a dataset of `{"tokens": (n,) tf.string, "tags": (n,)
tf.int64}` sentences (word strings and tag ids) and a `NerInfo` with the tag
names, whatever the origin:

* `"bible_ner"` (the default): the built-in silver-standard KJV corpus
  (PER, LOC, NORP; machine-annotated, small; scores on it are not CoNLL-2003
  scores). Offline; prepared from the package files on first use (seconds).
* any TFDS NER dataset by name, e.g. `"conll2003"`: prepared by TFDS in
  `data_dir` on first use, which downloads it. Its tag feature is the first
  of "ner", "ner_tags", "tags" that it has.
* a folder of CoNLL files (the path of an existing folder, bare as in
  `"mydata"` or not, a `pathlib.Path`, or `"folder:/path"`): one file per
  split, `{split}.conll` (see `ConllFolder`), the tag set read from the
  training split. Pass `data_dir` to keep TFDS's prepared copy out of
  `~/tensorflow_datasets`.

Offline use of TFDS datasets: when a dataset is not prepared in `data_dir`,
its download hosts are probed with a short TCP connection timeout first; if
none answers, `load_ner` raises a `RuntimeError` within seconds that says
how to prepare the data elsewhere. It never substitutes another dataset.
"""

import dataclasses
import logging
import os

import tensorflow as tf
import tensorflow_datasets as tfds

from keras_transformer.data import datasets
from keras_transformer.data import ner_corpus
from keras_transformer.data import tfds_access
from keras_transformer.data.conll_folder import ConllFolder
from keras_transformer.layers import checks

logger = logging.getLogger(__name__)

BUILTIN_NER_DATASET = ner_corpus.BibleNer.name  # "bible_ner"
TAG_FEATURES = ("ner", "ner_tags", "tags")
# Split names that mean the same thing in different datasets.
SPLIT_ALIASES = {"validation": "dev", "dev": "validation"}
# Hosts that TFDS downloads from for datasets without registered URLs.
DOWNLOAD_URLS = {"conll2003": ("https://data.deepai.org/conll2003.zip",)}

_SUPPORTED = (
    f"'{BUILTIN_NER_DATASET}' (built in, offline), the name of a TFDS NER "
    "dataset such as 'conll2003', or the path of an existing folder (or "
    "'folder:PATH') holding CoNLL files named {split}.conll"
)


@dataclasses.dataclass(frozen=True)
class NerInfo:
    """What `load_ner` loaded.

    Attributes:
        dataset: The dataset as given.
        split: The split actually read (after "validation"/"dev" aliasing).
        tag_names: The tag of each tag id, "O" first for the built-in corpus
            and for folders.
        num_examples: Number of sentences in the returned dataset, if known.
        tfds_info: The `tfds.core.DatasetInfo` (features, splits, citation,
            licence).
    """

    dataset: str
    split: str
    tag_names: tuple
    num_examples: int | None
    tfds_info: tfds.core.DatasetInfo | None = None

    @property
    def num_tags(self):
        return len(self.tag_names)

    @property
    def entity_types(self):
        """The entity types, e.g. `("LOC", "PER")`."""
        return tuple(sorted({tag[2:] for tag in self.tag_names if tag != "O"}))


def load_ner(dataset=BUILTIN_NER_DATASET, split="train", data_dir=None,
             download=True, tag_column=-1):
    """Loads named-entity sentences as `{"tokens", "tags"}` examples.

    Args:
        dataset: `"bible_ner"`, a TFDS dataset name, or a folder (see the
            module docstring).
        split: A split name; TFDS slicing such as `"train[:10%]"` works.
            "validation" reads "dev" in datasets that have no "validation"
            (such as `conll2003`), and the other way round.
        data_dir: TFDS data directory, where datasets (and folders) are
            prepared and looked for.
        download: Whether a TFDS dataset that is not prepared in `data_dir`
            may be downloaded. The built-in corpus and folders need none.
        tag_column: For folders, the column of the tag (-1: the last).

    Returns:
        `(sentences, info)`: a `tf.data.Dataset` of `{"tokens": (n,)
        tf.string, "tags": (n,) tf.int64}` in the dataset's order, and a
        `NerInfo` whose `tag_names[i]` is the tag of id `i`.

    Raises:
        ValueError: for an unknown dataset or split, a dataset without tokens
            and a tag sequence, or malformed CoNLL files.
        RuntimeError: when a TFDS dataset is not prepared in `data_dir` and
            cannot be downloaded (offline, or `download=False`).

    Example:

    >>> sentences, info = load_ner("bible_ner", "test", data_dir=getfixture("tmp_path"))
    >>> info.tag_names, info.num_examples
    (('O', 'B-LOC', 'B-NORP', 'B-PER', 'I-PER'), 1075)
    """
    if not isinstance(dataset, (str, os.PathLike)) or not os.fspath(dataset).strip():
        raise checks.invalid_argument("dataset", _SUPPORTED, dataset)
    if not isinstance(split, str) or not split:
        raise checks.invalid_argument("split", "a split name such as 'train'", split)
    name = os.fspath(dataset)
    if name.startswith(datasets.FOLDER_PREFIX):
        builder = ConllFolder(name[len(datasets.FOLDER_PREFIX):],
                              tag_column=tag_column, data_dir=data_dir)
        builder.download_and_prepare()
    elif os.path.isdir(os.path.expanduser(name)):
        # A folder that exists is what the user typed, bare ("mydata") or
        # not; a name without a folder ("conll2003") stays a TFDS name.
        builder = ConllFolder(name, tag_column=tag_column, data_dir=data_dir)
        builder.download_and_prepare()
    else:
        builder = _tfds_builder(name, data_dir, download)
    return _sentences(name, builder, split)


def _tfds_builder(name, data_dir, download):
    builder = tfds_access.open_builder(name, data_dir, "dataset", _SUPPORTED)
    _tag_feature(name, builder.info.features)  # Before any download.
    return tfds_access.ensure_prepared(
        name, builder, BUILTIN_NER_DATASET, download,
        advice=f"The built-in dataset {BUILTIN_NER_DATASET!r} and CoNLL folders "
               "need no download.",
        extra_urls=DOWNLOAD_URLS.get(builder.name, ()),
    )


def _tag_feature(name, features):
    """The name of the tag feature, or `ValueError` if it is not NER data."""
    tag_key = next((key for key in TAG_FEATURES if key in features), None)
    if (
        "tokens" not in features
        or tag_key is None
        or not isinstance(features[tag_key], tfds.features.Sequence)
        or not isinstance(features[tag_key].feature, tfds.features.ClassLabel)
    ):
        raise ValueError(
            f"Dataset {name!r} is not a named-entity dataset: expected a "
            f"'tokens' feature and a sequence of class labels named one of "
            f"{list(TAG_FEATURES)}. Received: features {features}"
        )
    return tag_key


def _sentences(name, builder, split):
    features = builder.info.features
    tag_key = _tag_feature(name, features)
    split = _resolve_split(name, split, builder.info.splits)
    examples = builder.as_dataset(split=split, shuffle_files=False)
    sentences = examples.map(
        lambda example: {"tokens": example["tokens"], "tags": example[tag_key]},
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    cardinality = int(sentences.cardinality())
    return sentences, NerInfo(
        dataset=name,
        split=split,
        tag_names=tuple(features[tag_key].feature.names),
        num_examples=cardinality if cardinality >= 0 else None,
        tfds_info=builder.info,
    )


def _resolve_split(name, split, splits):
    base, bracket, rest = split.partition("[")
    if base in splits or not splits:  # no split list: let TFDS decide
        return split
    alias = SPLIT_ALIASES.get(base)
    if alias in splits:
        logger.info("Dataset %r has no split %r; reading %r.", name, base, alias)
        return alias + bracket + rest
    raise ValueError(
        "Received an invalid value for argument `split`, expected one of "
        f"{sorted(splits)} (the splits of {name!r}, optionally sliced as in "
        f"TFDS). Received: split={split!r}"
    )
