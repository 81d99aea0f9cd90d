"""CoNLL files: reading, tag sets, and the TFDS builder base for them.

A CoNLL file holds one word per line, its columns separated by whitespace
(tabs or spaces), the word first and the entity tag in a fixed column (the
last by default: `word tag`, or CoNLL-2003's `word pos chunk tag`). A blank
line ends a sentence; `-DOCSTART-` lines separate documents and are skipped.
Files may be gzip-compressed (`.gz`).

Tags must be "O" or a prefix B-, I-, E- or S- followed by an entity type
(IOB1, IOB2 or IOBES). The tag set is read from the files, never assumed:
"O" first, then every entity type in alphabetical order with its prefixes in
the order B, I, E, S. It comes from the training split (what a model can
learn); a tag that appears only in another split is an error that names
the file, the line and the training tag set.

`ConllFilesBuilder` is the shared base of the TFDS builders over such files
(`BibleNer`, `ConllFolder`): a `tfds.dataset_builders.ConllDatasetBuilder`
whose features are `{"tokens": Sequence(Text), "tags":
Sequence(ClassLabel(names=<the tag set of the files>))}`.
"""

import collections
import gzip
import io
import logging
import os
import re

import tensorflow_datasets as tfds
from tensorflow_datasets.core.utils import tqdm_utils as tfds_tqdm

logger = logging.getLogger(__name__)

DOCSTART = "-DOCSTART-"
PREFIX_ORDER = "BIES"
TAG_RE = re.compile(r"^(?:O|[BIES]-\S+)$")


def _open_text(path):
    """Opens `path` (a path or an `importlib.resources` file) as UTF-8 text."""
    raw = open(path, "rb") if isinstance(path, (str, os.PathLike)) else path.open("rb")
    name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(path)
    if name.endswith(".gz"):
        raw = gzip.GzipFile(fileobj=raw, mode="rb")
    return io.TextIOWrapper(raw, encoding="utf-8", newline=None)


def read_conll(path, tag_column=-1):
    """Yields `(line_number, words, tags)` for each sentence of a CoNLL file.

    `line_number` is the 1-based line of the sentence's first word.

    Raises:
        ValueError: naming the file and line, for a line with one column,
            or a tag that is not "O" or prefix-dash-type.
    """
    words, tags, first_line = [], [], None
    with _open_text(path) as lines:
        for line_number, line in enumerate(lines, start=1):
            columns = line.split()
            if not columns or columns[0] == DOCSTART:
                if words:
                    yield first_line, words, tags
                words, tags, first_line = [], [], None
                continue
            if len(columns) < 2:
                raise ValueError(
                    f"CoNLL file {path}, line {line_number}: expected a word "
                    "and a tag separated by whitespace. Received: "
                    f"{line.rstrip()!r}"
                )
            try:
                tag = columns[tag_column]
            except IndexError:
                raise ValueError(
                    f"CoNLL file {path}, line {line_number}: no column "
                    f"{tag_column} (tag_column) in {len(columns)} columns. "
                    f"Received: {line.rstrip()!r}"
                ) from None
            if not TAG_RE.match(tag):
                raise ValueError(
                    f"CoNLL file {path}, line {line_number}: expected a tag "
                    "'O' or B-, I-, E- or S- followed by an entity type "
                    f"(e.g. 'B-PER'). Received: tag={tag!r}"
                )
            if first_line is None:
                first_line = line_number
            words.append(columns[0])
            tags.append(tag)
    if words:
        yield first_line, words, tags


def order_tags(tags):
    """Sorts a tag set: "O", then by entity type, then B, I, E, S.

    Example:

    >>> order_tags({"I-PER", "B-LOC", "O", "B-PER"})
    ['O', 'B-LOC', 'B-PER', 'I-PER']
    """
    entity_tags = sorted(
        (tag for tag in set(tags) if tag != "O"),
        key=lambda tag: (tag[2:], PREFIX_ORDER.index(tag[0])),
    )
    return ["O", *entity_tags]


def scan_tags(paths, tag_column=-1):
    """The ordered tag set of CoNLL files (validating every line on the way)."""
    tags = set()
    for path in paths:
        for _, _, sentence_tags in read_conll(path, tag_column):
            tags.update(sentence_tags)
    return order_tags(tags)


def split_tag_set(split_files, tag_column=-1, tag_split="train"):
    """The tag set of `split_files[tag_split]`, checked against the other splits.

    Without a `tag_split` split (e.g. a folder of test files only), the tag
    set of all the files.

    Raises:
        ValueError: for a tag of another split that the training split does
            not have (a model trained on it could never predict it), naming
            the file and line.
    """
    if tag_split not in split_files:
        return scan_tags([path for paths in split_files.values() for path in paths],
                         tag_column)
    tag_names = scan_tags(split_files[tag_split], tag_column)
    known = set(tag_names)
    for split, paths in split_files.items():
        if split == tag_split:
            continue
        for path in paths:
            for line_number, _, tags in read_conll(path, tag_column):
                unknown = sorted(set(tags) - known)
                if unknown:
                    raise ValueError(
                        f"CoNLL file {path}, sentence at line {line_number}: tag(s) "
                        f"{unknown} of split {split!r} never appear in the "
                        f"{tag_split!r} split, whose tags are {tag_names}. The tag "
                        f"set comes from {tag_split!r} (a model trained on it could "
                        "never predict them): fix the tag (a typo?), or add "
                        f"sentences with it to {tag_split!r}."
                    )
    return tag_names


def _hide_custom_config_warning(record):
    return not record.getMessage().startswith("Using custom data configuration")


class ConllFilesBuilder(
    tfds.dataset_builders.ConllDatasetBuilder, skip_registration=True
):
    """A TFDS CoNLL builder over given files, with the tag set of the files.

    Subclasses call `super().__init__(split_files=..., config_name=...)` and
    may set `DESCRIPTION`, `HOMEPAGE`, `CITATION` and `LICENSE`. Examples keep
    the order of the files (no TFDS shuffling).

    Args:
        split_files: `{split: [file, ...]}`; files are paths or
            `importlib.resources` files, optionally gzip-compressed.
        config_name: The name of the builder config, part of the path
            where TFDS writes the prepared data.
        tag_column: The column of the tag (the word is column 0).
        **kwargs: `tfds.core.DatasetBuilder` arguments (`data_dir`, ...).
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Tokens and entity tags from CoNLL files."}
    DESCRIPTION = "Words and their entity tags, read from CoNLL files."
    HOMEPAGE = None
    CITATION = None
    LICENSE = None

    def __init__(self, *, split_files, config_name, tag_column=-1, **kwargs):
        self.split_files = dict(split_files)
        self.tag_column = tag_column
        self.tag_names = split_tag_set(self.split_files, tag_column)
        config = tfds.dataset_builders.ConllBuilderConfig(
            name=config_name,
            version=self.VERSION,
            separator=None,  # any whitespace
            ordered_features=collections.OrderedDict(
                tokens=tfds.features.Sequence(tfds.features.Text()),
                tags=tfds.features.Sequence(
                    tfds.features.ClassLabel(names=self.tag_names)
                ),
            ),
        )
        # The config is made from the files, not picked from a class list,
        # which TFDS reports as a "custom data configuration": expected here.
        absl_logger = logging.getLogger("absl")
        absl_logger.addFilter(_hide_custom_config_warning)
        try:
            super().__init__(config=config, **kwargs)
        finally:
            absl_logger.removeFilter(_hide_custom_config_warning)

    def _info(self):
        return self.dataset_info_from_configs(
            description=self.DESCRIPTION,
            features=self.builder_config.features_dict,
            supervised_keys=("tokens", "tags"),
            disable_shuffling=True,
            homepage=self.HOMEPAGE,
            citation=self.CITATION,
            license=self.LICENSE,
        )

    def download_and_prepare(self, *args, **kwargs):
        """Prepares the examples, without TFDS's progress bars (local files,
        seconds: bars about downloads and shuffling would only mislead)."""
        shown = getattr(tfds_tqdm, "_active", True)
        tfds.display_progress_bar(False)
        try:
            super().download_and_prepare(*args, **kwargs)
        finally:
            tfds.display_progress_bar(shown)

    # TFDS prints "Downloading and preparing dataset ..." to stdout around
    # `download_and_prepare`; nothing is downloaded here, so say so in the log.
    def _log_download_bytes(self):
        logger.info(
            "Preparing %s from local CoNLL files (no download) into %s.",
            self.name, self.data_dir,
        )

    def _log_download_done(self):
        logger.info("Prepared %s in %s.", self.name, self.data_dir)

    def _split_generators(self, dl_manager):
        del dl_manager  # Local files.
        return {
            split: self._generate_examples(paths)
            for split, paths in self.split_files.items()
        }

    def _generate_examples(self, filepaths):
        paths = filepaths if isinstance(filepaths, list) else [filepaths]
        for file_index, path in enumerate(paths):
            for line_number, words, tags in read_conll(path, self.tag_column):
                yield f"{file_index}:{line_number}", {"tokens": words, "tags": tags}
