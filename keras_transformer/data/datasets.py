"""Parallel text as `tf.data` pairs: the built-in corpus, TFDS, or your files.

`load_translation` returns a dataset of `(source_text, target_text)` scalar
string pairs and a `TranslationInfo`, whatever the origin:

* `"bible_en_es"` (the default): the built-in KJV / Reina-Valera 1909
  corpus. Offline; prepared from the package files on first use (seconds).
* any TFDS translation dataset by name, e.g. `"ted_hrlr_translate/pt_to_en"`
  or `"wmt14_translate/de-en"` (optionally with `:version`). Prepared by
  TFDS in `data_dir` on first use, which downloads it.
* `"folder:/path/to/dir"`, or just the path of an existing folder
  (`"my_corpus"`): your own line-aligned text files, read with
  `tfds.folder_dataset.TranslateFolder`. The folder must hold only files
  named `{language}.{split}.txt`, one sentence per line, line *i* of one
  language translating line *i* of the other, for exactly two languages::

      my_corpus/
        en.train.txt   es.train.txt
        en.dev.txt     es.dev.txt      (optional)
        en.test.txt    es.test.txt     (optional)

  Split names have the usual aliases (`SPLIT_ALIASES`): asking for
  "validation" reads "dev", "valid" or "val" when the folder has no
  "validation" files (logged), and the like for "train" and "test".
  `load_translation_splits` holds validation and test pairs out of the
  training pairs when the folder has none. A folder has no direction of
  its own: without `source_language` or `target_language`, the first
  language in alphabetical order is the source, with a warning (name one).
  A path that is also the name of a TFDS dataset is refused as ambiguous;
  write `folder:PATH` or `./PATH`.

  Lines are split on every Unicode line boundary (`str.splitlines`: also
  `\\r`, `\\x0b`, `\\x0c`, `\\x1c`-`\\x1e`, `\\x85`, `\\u2028`, `\\u2029`), so
  such characters must not occur inside a sentence. Pairs whose source or
  target line is empty or blank are skipped, and a warning gives how many
  and which lines.

Offline use of TFDS datasets: when a dataset is not prepared in `data_dir`,
its download hosts (from the dataset's registered URLs) are probed with a
short TCP connection timeout first. If none answers, `load_translation`
raises a `RuntimeError` within seconds that says how to prepare the data on
another machine, instead of letting the downloader retry for minutes. It
never substitutes another dataset.
"""

import dataclasses
import functools
import logging
import os
import re

import tensorflow as tf
import tensorflow_datasets as tfds

from keras_transformer.data import bible
from keras_transformer.data import tfds_access
from keras_transformer.layers import checks

logger = logging.getLogger(__name__)

BUILTIN_DATASET = bible.BibleEnEs.name  # "bible_en_es", registered on import
FOLDER_PREFIX = "folder:"
# The names under which a split is found, the canonical name first.
SPLIT_ALIASES = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "val", "dev", "development"),
    "test": ("test", "testing"),
}
# How `TranslationInfo.direction_from` says the direction was chosen.
DIRECTION_FROM_ARGUMENTS = "arguments"
DIRECTION_FROM_DATASET = "dataset"
DIRECTION_FROM_ALPHABET = "alphabetical order"

_SUPPORTED = (
    f"'{BUILTIN_DATASET}' (built in, offline), the name of a TFDS "
    "translation dataset such as 'ted_hrlr_translate/pt_to_en' or "
    "'wmt14_translate/de-en' (see `tfds.list_builders()`), or "
    "'folder:/path/to/dir' (or the path of an existing folder) for your "
    "own files named {language}.{split}.txt"
)
_FOLDER_FILE_RE = re.compile(r"^([^.]+)\.([^.]+)\.txt$")


@dataclasses.dataclass(frozen=True)
class TranslationInfo:
    """What `load_translation` loaded.

    Attributes:
        dataset: The dataset name as given.
        split: The split read: as given, or the alias found (see
            `SPLIT_ALIASES`).
        source_language: Language of the first text of each pair.
        target_language: Language of the second text of each pair.
        num_examples: Number of pairs in the returned dataset, when known.
        num_skipped: Pairs left out because a side was empty (folders only).
        tfds_info: The `tfds.core.DatasetInfo` (features, splits, citation,
            licence), or `None` for folders.
        direction_from: How the direction was chosen: "arguments" (a
            language was named), "dataset" (the TFDS dataset's supervised
            keys) or "alphabetical order" (a folder, no language named).
        splits: The dataset's split names (folders: from the file names;
            TFDS: from its info), sorted.
        folder: The folder's path, for folders; `None` otherwise.
    """

    dataset: str
    split: str
    source_language: str
    target_language: str
    num_examples: int | None
    num_skipped: int = 0
    tfds_info: tfds.core.DatasetInfo | None = None
    direction_from: str = DIRECTION_FROM_DATASET
    splits: tuple = ()
    folder: str | None = None

    @property
    def direction(self):
        """`"source -> target"`, e.g. `"en -> es"`."""
        return f"{self.source_language} -> {self.target_language}"


def load_translation(
    dataset=BUILTIN_DATASET,
    split="train",
    data_dir=None,
    source_language=None,
    target_language=None,
    download=True,
):
    """Loads parallel text as `(source_text, target_text)` pairs.

    The translation direction defaults to the dataset's own (its TFDS
    supervised keys: en -> es for `bible_en_es`, pt -> en for
    `ted_hrlr_translate/pt_to_en`). Name one language to translate from or
    into it; the other is then the remaining one.

    Args:
        dataset: `"bible_en_es"`, a TFDS dataset name, `"folder:PATH"` or
            the path of an existing folder (see the module docstring).
        split: A split name; TFDS slicing works too, e.g. `"train[:10%]"`.
            A name missing from a folder is looked up under its aliases
            (`SPLIT_ALIASES`: "validation" reads "dev" or "valid").
        data_dir: TFDS data directory, where datasets are prepared and
            looked for (default: TFDS's, `~/tensorflow_datasets` or
            `$TFDS_DATA_DIR`). Unused for folders.
        source_language: The language to translate from.
        target_language: The language to translate into.
        download: Whether a TFDS dataset that is not prepared in `data_dir`
            may be downloaded. The built-in corpus needs no download and is
            always prepared.

    Returns:
        `(pairs, info)`: a `tf.data.Dataset` of `(source, target)` pairs of
        scalar `tf.string` tensors, in the dataset's order, and a
        `TranslationInfo`.

    Raises:
        ValueError: for an unknown dataset, split or language, or a folder
            that does not follow the layout.
        RuntimeError: when a TFDS dataset is not prepared in `data_dir` and
            cannot be downloaded (offline, or `download=False`).

    Example:

    >>> pairs, info = load_translation("bible_en_es", split="test",
    ...                                data_dir=getfixture("tmp_path"))
    >>> info.source_language, info.target_language, info.num_examples
    ('en', 'es', 1097)
    """
    if not isinstance(dataset, str) or not dataset.strip():
        raise checks.invalid_argument("dataset", _SUPPORTED, dataset)
    if not isinstance(split, str) or not split:
        raise checks.invalid_argument("split", "a split name such as 'train'", split)
    folder = folder_path(dataset)
    if folder is not None:
        return _load_folder(dataset, folder, split, source_language, target_language)
    return _load_tfds(
        dataset, split, data_dir, source_language, target_language, download
    )


def folder_path(dataset):
    """The folder that `dataset` names, or `None` for a TFDS name.

    `"folder:PATH"` names PATH; so does the path of an existing folder,
    unless it is also a TFDS dataset name (then a `ValueError` asks for
    `folder:PATH`, as the two readings would load different data).
    """
    if dataset.startswith(FOLDER_PREFIX):
        return os.path.expanduser(dataset[len(FOLDER_PREFIX):])
    path = os.path.expanduser(dataset)
    if not os.path.isdir(path):
        return None
    if _is_tfds_name(dataset):
        raise ValueError(
            f"Received an ambiguous value for argument `dataset`: "
            f"{dataset!r} is both an existing folder and the name of a TFDS "
            f"dataset. Expected 'folder:{dataset}' (or './{dataset}') for "
            f"the folder, or run from another directory for the TFDS "
            f"dataset. Received: dataset={dataset!r}"
        )
    return path


def _is_tfds_name(name):
    base = name.split(":")[0].split("/")[0]
    if not re.fullmatch(r"[a-z][a-z0-9_]*", base):
        return False
    try:
        tfds.builder_cls(base)
    except tfds.core.registered.DatasetNotFoundError:
        return False
    return True


def resolve_split(split, splits, dataset):
    """`split`, or the alias of its name that `splits` holds (logged).

    TFDS slicing (`"dev[:10]"`) is kept. Raises `ValueError` naming the
    available splits when neither the name nor an alias is there.
    """
    base, bracket, rest = split.partition("[")
    if base in splits:
        return split
    for names in SPLIT_ALIASES.values():
        if base in names:
            alias = next((name for name in names if name in splits), None)
            if alias is not None:
                logger.info("Dataset %r has no split %r; reading %r.", dataset, base, alias)
                return alias + bracket + rest
    raise ValueError(
        f"Received an invalid value for argument `split`, expected one "
        f"of {sorted(splits)} (the splits of {dataset!r}; aliases: "
        f"{_alias_words()}). Received: split={split!r}"
    )


def find_split(kind, splits):
    """The name under which `splits` holds the `kind` split ("train",
    "validation", "test"), or `None`."""
    return next((name for name in SPLIT_ALIASES[kind] if name in splits), None)


def _alias_words():
    return "; ".join(f"{kind}: {', '.join(names)}" for kind, names in SPLIT_ALIASES.items())


# === TFDS datasets ===


def _load_tfds(name, split, data_dir, source_language, target_language, download):
    builder = tfds_access.open_builder(name, data_dir, "dataset", _SUPPORTED)
    default_direction = _translation_languages(name, builder.info)
    source, target = _direction(default_direction, source_language, target_language)
    direction_from = (
        DIRECTION_FROM_DATASET
        if source_language is None and target_language is None
        else DIRECTION_FROM_ARGUMENTS
    )
    tfds_access.ensure_prepared(
        name, builder, BUILTIN_DATASET, download,
        advice=f"The built-in dataset {BUILTIN_DATASET!r} needs no download.",
    )

    pairs = builder.as_dataset(split=split, shuffle_files=False)
    pairs = pairs.map(
        lambda example: (example[source], example[target]),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    cardinality = int(pairs.cardinality())
    return pairs, TranslationInfo(
        dataset=name,
        split=split,
        source_language=source,
        target_language=target,
        num_examples=cardinality if cardinality >= 0 else None,
        tfds_info=builder.info,
        direction_from=direction_from,
        splits=tuple(sorted(builder.info.splits.keys())),
    )


def _translation_languages(name, info):
    """The (source, target) language keys of a TFDS translation dataset."""
    keys = info.supervised_keys
    features = info.features
    if (
        isinstance(keys, tuple)
        and len(keys) == 2
        and all(isinstance(key, str) for key in keys)
        and all(isinstance(features[key], tfds.features.Text) for key in keys)
    ):
        return keys
    if isinstance(features, tfds.features.Translation):
        languages = tuple(features.languages)
        if len(languages) == 2:
            return languages
    raise ValueError(
        f"Dataset {name!r} is not a translation dataset between two "
        f"languages: its features are {features} and its supervised keys "
        f"{keys}. Expected {_SUPPORTED}. Received: dataset={name!r}"
    )


def _direction(languages, source_language, target_language):
    """Resolves the (source, target) pair from the dataset's two languages."""
    for name, value in (
        ("source_language", source_language),
        ("target_language", target_language),
    ):
        if value is not None and value not in languages:
            raise checks.invalid_argument(
                name, f"None or one of {list(languages)}", value
            )
    first, second = languages
    if source_language is None and target_language is None:
        return first, second
    if source_language is not None and target_language is not None:
        if source_language == target_language:
            raise ValueError(
                "`source_language` and `target_language` must differ. "
                f"Received: source_language={source_language!r}, "
                f"target_language={target_language!r}"
            )
        return source_language, target_language
    if source_language is not None:
        return source_language, second if source_language == first else first
    return (second if target_language == first else first), target_language


# === Folders of text files ===


def _slice(examples, split, splits):
    """The part of `examples` that a TFDS slice spec such as "train[:10%]"
    names."""
    parts = []
    for part in tfds.core.ReadInstruction.from_spec(split).to_absolute(splits):
        start = part.from_ or 0
        piece = examples.skip(start)
        parts.append(piece if part.to is None else piece.take(part.to - start))
    return functools.reduce(lambda first, second: first.concatenate(second), parts)


def _load_folder(dataset, root, split, source_language, target_language):
    if not os.path.isdir(root):
        raise ValueError(
            f"Received an invalid value for argument `dataset`, expected "
            f"'folder:PATH' with PATH an existing folder. Received: "
            f"dataset={dataset!r}"
        )
    files = sorted(os.listdir(root))
    # TranslateFolder reads every file in the folder and parses each name.
    stray = [name for name in files if not _FOLDER_FILE_RE.match(name)]
    if stray or not files:
        raise ValueError(
            f"Folder {root!r} must hold only files named "
            "{language}.{split}.txt (e.g. en.train.txt and es.train.txt), "
            f"for two languages. Received: files {files}"
        )
    by_split = {}
    for name in files:
        language, file_split = _FOLDER_FILE_RE.match(name).groups()
        by_split.setdefault(file_split, set()).add(language)
    languages = tuple(sorted(set().union(*by_split.values())))
    if len(languages) != 2:
        raise ValueError(
            f"Folder {root!r} must hold text in exactly two languages. "
            f"Received: languages {list(languages)} in files {files}"
        )
    split = resolve_split(split, by_split, root)
    split_name = split.partition("[")[0]
    missing = [
        f"{lang}.{split_name}.txt" for lang in languages
        if lang not in by_split[split_name]
    ]
    if missing:
        raise ValueError(
            f"Folder {root!r} lacks {', '.join(missing)}: every split needs "
            f"one file per language {list(languages)}."
        )
    source, target = _direction(languages, source_language, target_language)
    if source_language is None and target_language is None:
        direction_from = DIRECTION_FROM_ALPHABET
        logger.warning(
            "Folder %s: no source or target language given, so translating "
            "%s -> %s (the first language in alphabetical order is the "
            "source). Name one (`source_language`, --source-language) to "
            "choose.", root, source, target,
        )
    else:
        direction_from = DIRECTION_FROM_ARGUMENTS

    try:
        builder = tfds.folder_dataset.TranslateFolder(root_dir=root)
    except ValueError as error:  # Line counts differ between languages.
        raise ValueError(
            f"Folder {root!r}: the files of a split must have the same number "
            f"of lines (line i of one language translates line i of the "
            f"other). {error}"
        ) from None
    examples = builder.as_dataset(split=split_name)
    if split != split_name:  # TranslateFolder reads whole splits only.
        examples = _slice(examples, split, builder.info.splits)
    num_lines = int(examples.cardinality())

    def is_blank(example):
        return tf.logical_or(
            tf.equal(tf.strings.length(tf.strings.strip(example[source])), 0),
            tf.equal(tf.strings.length(tf.strings.strip(example[target])), 0),
        )

    blank_lines = [
        int(index) + 1
        for index, _ in examples.enumerate()
        .filter(lambda index, example: is_blank(example))
        .as_numpy_iterator()
    ]
    if blank_lines:
        shown = ", ".join(map(str, blank_lines[:10]))
        more = ", ..." if len(blank_lines) > 10 else ""
        logger.warning(
            "Skipped %d of %d pairs of split %r in %s: the %s or %s line is "
            "empty (lines %s%s).",
            len(blank_lines), num_lines, split, root, source, target, shown, more,
        )
    pairs = examples.filter(lambda example: tf.logical_not(is_blank(example)))
    pairs = pairs.map(lambda example: (example[source], example[target]))
    num_pairs = num_lines - len(blank_lines)
    pairs = pairs.apply(tf.data.experimental.assert_cardinality(num_pairs))
    return pairs, TranslationInfo(
        dataset=dataset,
        split=split,
        source_language=source,
        target_language=target,
        num_examples=num_pairs,
        num_skipped=len(blank_lines),
        direction_from=direction_from,
        splits=tuple(sorted(by_split)),
        folder=root,
    )
