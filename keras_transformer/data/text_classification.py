"""Text classification data as `tf.data` `(text, label)` pairs, from TFDS.

`load_text_classification` returns a dataset of `(text, label)` pairs (a
scalar `tf.string` and a scalar `tf.int64` class id) and a
`TextClassificationInfo` with the class names, whatever the origin:

* `"bible_genre"` (the default): the built-in verse classification set
  (KJV verses labelled with one of six sections of the Bible, split by
  whole books; config `bible_genre/all` for every verse). Offline; prepared
  from the package files on first use (seconds).
* any TFDS dataset whose supervised keys are a text and a `ClassLabel`,
  e.g. `"imdb_reviews"` or `"ag_news_subset"`: prepared by TFDS in
  `data_dir` on first use, which downloads it (offline, an unprepared
  dataset fails within seconds with instructions, as `load_translation`
  does).
"""

import dataclasses

import tensorflow as tf
import tensorflow_datasets as tfds

from keras_transformer.data import bible_genre
from keras_transformer.data import tfds_access
from keras_transformer.layers import checks

BUILTIN_DATASET = bible_genre.BibleGenre.name  # "bible_genre"

_SUPPORTED = (
    f"'{BUILTIN_DATASET}' (built in, offline; '{BUILTIN_DATASET}/all' for every "
    "verse) or the name of a TFDS dataset whose supervised keys are a text and "
    "a class label, such as 'imdb_reviews'"
)


@dataclasses.dataclass(frozen=True)
class TextClassificationInfo:
    """What `load_text_classification` loaded.

    Attributes:
        dataset: The dataset as given.
        split: The split as given.
        label_names: The class of each label id.
        num_examples: Number of pairs in the returned dataset, when known.
        tfds_info: The `tfds.core.DatasetInfo` (features, splits, licence).
    """

    dataset: str
    split: str
    label_names: tuple
    num_examples: int | None
    tfds_info: tfds.core.DatasetInfo | None = None

    @property
    def num_classes(self):
        return len(self.label_names)


def load_text_classification(dataset=BUILTIN_DATASET, split="train", data_dir=None,
                             download=True):
    """Loads labelled texts as `(text, label)` pairs.

    Args:
        dataset: `"bible_genre"` or a TFDS dataset name (see the module
            docstring).
        split: A split name; TFDS slicing such as `"train[:10%]"` works.
        data_dir: TFDS data directory, where datasets are prepared and
            looked for.
        download: Whether a TFDS dataset that is not prepared in `data_dir`
            may be downloaded. The built-in set needs no download.

    Returns:
        `(pairs, info)`: a `tf.data.Dataset` of `(text, label)` scalar pairs
        in the dataset's order, and a `TextClassificationInfo` whose
        `label_names[i]` is the class of label `i`.

    Raises:
        ValueError: for an unknown dataset or split, or a dataset whose
            supervised keys are not a text and a class label.
        RuntimeError: when a TFDS dataset is not prepared in `data_dir` and
            cannot be downloaded (offline, or `download=False`).

    Example:

    >>> pairs, info = load_text_classification(
    ...     "bible_genre", "validation", data_dir=getfixture("tmp_path"))
    >>> info.num_examples, info.label_names[0]
    (240, 'Law')
    >>> text, label = next(iter(pairs))
    >>> info.label_names[int(label)], text.numpy().decode()[:31]
    ('Law', 'And he shall kill it on the sid')
    """
    if not isinstance(dataset, str) or not dataset.strip():
        raise checks.invalid_argument("dataset", _SUPPORTED, dataset)
    if not isinstance(split, str) or not split:
        raise checks.invalid_argument("split", "a split name such as 'train'", split)
    builder = tfds_access.open_builder(dataset, data_dir, "dataset", _SUPPORTED)
    text_key, label_key = _supervised_keys(dataset, builder.info)
    tfds_access.ensure_prepared(
        dataset, builder, BUILTIN_DATASET, download,
        advice=f"The built-in dataset {BUILTIN_DATASET!r} needs no download.",
    )
    split_name = split.split("[")[0]
    if builder.info.splits and split_name not in builder.info.splits:
        raise checks.invalid_argument(
            "split", f"one of {sorted(builder.info.splits)}", split
        )
    examples = builder.as_dataset(split=split, shuffle_files=False)
    pairs = examples.map(
        lambda example: (example[text_key], example[label_key]),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    cardinality = int(pairs.cardinality())
    return pairs, TextClassificationInfo(
        dataset=dataset,
        split=split,
        label_names=tuple(builder.info.features[label_key].names),
        num_examples=cardinality if cardinality >= 0 else None,
        tfds_info=builder.info,
    )


def _supervised_keys(name, info):
    keys = info.supervised_keys
    features = info.features
    if (
        isinstance(keys, tuple)
        and len(keys) == 2
        and all(isinstance(key, str) and key in features for key in keys)
        and isinstance(features[keys[0]], tfds.features.Text)
        and isinstance(features[keys[1]], tfds.features.ClassLabel)
    ):
        return keys
    raise ValueError(
        f"Dataset {name!r} is not a text classification dataset: its "
        f"supervised keys are {keys} and its features {features}. Expected "
        f"{_SUPPORTED}. Received: dataset={name!r}"
    )
