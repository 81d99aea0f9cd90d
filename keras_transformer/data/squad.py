"""Extractive question answering data as `tf.data` examples, from TFDS.

`load_squad` returns a dataset of SQuAD examples, whatever the origin:

* `"public_domain_qa"` (the default): the built-in SMALL, HAND-MADE set
  (252 questions over public-domain passages; splits `train` and
  `validation`). Offline; prepared from the package files on first use.
  Scores on it are not SQuAD scores.
* `"squad/v1.1"`, `"squad/v2.0"` (TFDS's SQuAD; splits `train` and
  `validation`), or another TFDS dataset with SQuAD's features. Prepared by
  TFDS in `data_dir` on first use, which downloads it. Offline, an
  unprepared dataset fails within seconds with instructions (as
  `load_translation` does).
* a path to a SQuAD-format JSON file (v1.1 or v2.0; it becomes the split
  named by `split`), or to a folder of `{split}.json` files. Prepared
  through the `squad_json` TFDS builder; nothing is downloaded. A string is
  taken for a path when it ends with ".json", is absolute, starts with "."
  or "~", or names an existing file or folder with a "/" in it (write
  "./folder" for a folder in the working directory).

Every example is a dict of scalar / ragged tensors with the features of
TFDS's `squad/v2.0` minus `plausible_answers`:

    {"id", "title", "context", "question",
     "answers": {"text": (A,), "answer_start": (A,)}, "is_impossible"}

`is_impossible` is `False` for every SQuAD v1.1 question. `qa_examples`
turns such a dataset into Python dicts for `prepare_qa_features`.
"""

import logging
import os
import re

import tensorflow as tf
import tensorflow_datasets as tfds

from keras_transformer.data import public_domain_qa
from keras_transformer.data import squad_json
from keras_transformer.data import tfds_access
from keras_transformer.data.squad_json_config import SquadJsonConfig
from keras_transformer.layers import checks

logger = logging.getLogger(__name__)

BUILTIN_DATASET = public_domain_qa.PublicDomainQa.name  # "public_domain_qa"
KEYS = ("id", "title", "context", "question", "answers", "is_impossible")

_SUPPORTED = (
    f"'{BUILTIN_DATASET}' (built in, offline), 'squad/v1.1' or 'squad/v2.0' "
    "(TFDS, downloaded on first use), the name of another TFDS dataset with "
    "SQuAD's features, or the path of a SQuAD-format JSON file or of a folder "
    "of {split}.json files"
)
# A TFDS split with an optional slice, e.g. "train" or "validation[:50%]".
_SPLIT = re.compile(r"^(\w+)(\[.*\])?$")


def load_squad(
    name_or_path=BUILTIN_DATASET, split="train", data_dir=None, download=True
):
    """Loads extractive question answering examples in SQuAD's layout.

    Args:
        name_or_path: `"public_domain_qa"`, a TFDS dataset name such as
            `"squad/v2.0"`, or a local path (see the module docstring).
        split: A split name, with optional TFDS slicing (`"train[:10%]"`).
            For a single JSON file, its base name names the file's split.
        data_dir: TFDS data directory (default: TFDS's,
            `~/tensorflow_datasets` or `$TFDS_DATA_DIR`).
        download: Whether a TFDS dataset that is not prepared in `data_dir`
            may be downloaded. Built-in and local data need no download.

    Returns:
        `(examples, info)`: a `tf.data.Dataset` of example dicts (see the
        module docstring), in the dataset's order, and the
        `tfds.core.DatasetInfo` (features, splits, description, licence).

    Raises:
        ValueError: for an unknown dataset or split, a malformed JSON file
            (naming the file and question), or a TFDS dataset without
            SQuAD's features.
        RuntimeError: when a TFDS dataset is not prepared in `data_dir` and
            cannot be downloaded (offline, or `download=False`).

    Example:

    >>> examples, info = load_squad("public_domain_qa", split="validation",
    ...                             data_dir=getfixture("tmp_path"))
    >>> example = next(iter(qa_examples(examples.take(1))))
    >>> example["question"]
    'When did Lincoln deliver the Gettysburg Address?'
    >>> start = example["answers"]["answer_start"][0]
    >>> example["context"][start:start + 17]
    'November 19, 1863'
    """
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path).strip():
        raise checks.invalid_argument("name_or_path", _SUPPORTED, name_or_path)
    match = _SPLIT.match(split) if isinstance(split, str) else None
    if match is None:
        raise checks.invalid_argument(
            "split", "a split name such as 'train', optionally sliced", split
        )
    text = os.fspath(name_or_path)
    if isinstance(name_or_path, os.PathLike) or _looks_like_path(text):
        builder = _local_builder(text, match.group(1), data_dir)
    else:
        builder = _tfds_builder(text, data_dir, download)
    # (A prepared dataset knows its splits; TFDS's mock data has none.)
    if builder.info.splits and match.group(1) not in builder.info.splits:
        raise checks.invalid_argument(
            "split", f"one of {sorted(builder.info.splits)}", split
        )
    examples = builder.as_dataset(split=split, shuffle_files=False)
    examples = examples.map(_uniform, num_parallel_calls=tf.data.AUTOTUNE)
    return examples, builder.info


def qa_examples(examples):
    """Yields the examples of a `load_squad` dataset as Python dicts.

    Strings are decoded, answers become `{"text": [str], "answer_start":
    [int]}`, `is_impossible` a `bool`: the layout `prepare_qa_features`
    takes.
    """
    for example in examples.as_numpy_iterator():
        answers = example["answers"]
        yield {
            "id": example["id"].decode("utf-8"),
            "title": example["title"].decode("utf-8"),
            "context": example["context"].decode("utf-8"),
            "question": example["question"].decode("utf-8"),
            "answers": {
                "text": [text.decode("utf-8") for text in answers["text"]],
                "answer_start": [int(start) for start in answers["answer_start"]],
            },
            "is_impossible": bool(example["is_impossible"]),
        }


def _uniform(example):
    """The SQuAD v2.0 keys without `plausible_answers`, for every source."""
    uniform = {key: example[key] for key in KEYS if key in example}
    if "is_impossible" not in uniform:  # SQuAD v1.1: every question answerable.
        uniform["is_impossible"] = tf.constant(False)
    if "title" not in uniform:
        uniform["title"] = tf.constant("")
    return uniform


def _looks_like_path(text):
    return (
        text.endswith(".json")
        or text.startswith((".", "~"))
        or os.path.isabs(text)
        or ("/" in text and os.path.exists(text))
    )


# === Local files ===


def _local_builder(path, split_name, data_dir):
    path = os.path.expanduser(path)
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if n.endswith(".json"))
        files = {name[: -len(".json")]: os.path.join(path, name) for name in names}
        bad = [name for name in files if not re.match(r"^\w+$", name)]
        if not files or bad:
            raise ValueError(
                f"Folder {path!r} must hold SQuAD-format files named "
                "{split}.json, with split names of letters, digits and '_' "
                f"(e.g. train.json, validation.json). Received: files {names}"
            )
    elif os.path.isfile(path):
        files = {split_name: path}
    else:
        raise ValueError(
            "Received an invalid value for argument `name_or_path`, expected "
            f"{_SUPPORTED}; no such file or folder. Received: "
            f"name_or_path={path!r}"
        )
    config = SquadJsonConfig.from_files(files)
    builder = tfds.builder(squad_json.SquadJson.name, config=config, data_dir=data_dir)
    if not builder.is_prepared():
        builder.download_and_prepare()  # Reads and validates the files.
    return builder


# === TFDS datasets ===


def _tfds_builder(name, data_dir, download):
    builder = tfds_access.open_builder(name, data_dir, "name_or_path", _SUPPORTED)
    features = builder.info.features
    if not all(key in features for key in ("id", "context", "question", "answers")):
        raise ValueError(
            f"Dataset {name!r} is not an extractive question answering dataset "
            f"in SQuAD's layout: its features are {features}. Expected "
            f"{_SUPPORTED}. Received: name_or_path={name!r}"
        )
    return tfds_access.ensure_prepared(
        name, builder, BUILTIN_DATASET, download,
        advice="Or pass the path of the SQuAD JSON file itself. The built-in "
               f"dataset {BUILTIN_DATASET!r} needs no download.",
    )
