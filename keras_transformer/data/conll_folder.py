"""Your own CoNLL files as a TensorFlow Datasets builder."""

import hashlib
import os
import re

from keras_transformer.data import conll

# {split}.{conll,iob,iob2,bio,txt,tsv}, optionally gzip-compressed.
SPLIT_FILE_RE = re.compile(r"^([A-Za-z0-9_]+)\.(?:conll|iob|iob2|bio|txt|tsv)(?:\.gz)?$")


class ConllFolder(conll.ConllFilesBuilder, skip_registration=True):
    """TFDS builder over a folder of CoNLL files, one file per split.

    The folder holds files named `{split}.conll` (or `.iob`, `.iob2`,
    `.bio`, `.txt`, `.tsv`, each optionally `.gz`), e.g. `train.conll`,
    `validation.conll`, `test.conll`; each split is one file. Columns are
    separated by whitespace, the word first and the tag in `tag_column`
    (the last by default). The tag set is read from all the files.

    TFDS prepares the examples under `data_dir` (default: TFDS's) in a
    folder named after the folder's name and a hash of its files, so
    changed files are prepared again and unchanged ones are reused.

    Args:
        root_dir: The folder.
        tag_column: The column of the tag; -1 (the last) fits both
            `word tag` files and CoNLL-2003's `word pos chunk tag`.
        data_dir: Where TFDS writes the prepared data.

    Raises:
        ValueError: for a folder that does not exist or holds no or
            badly named files, or for a malformed line (with file and line).

    Example:

    >>> folder = getfixture("tmp_path") / "my_ner"
    >>> folder.mkdir()
    >>> _ = (folder / "train.conll").write_text("Paris B-LOC\\nis O\\nnice O\\n")
    >>> builder = ConllFolder(folder, data_dir=getfixture("tmp_path") / "tfds")
    >>> builder.tag_names
    ['O', 'B-LOC']
    >>> builder.download_and_prepare()
    >>> builder.info.splits["train"].num_examples
    1
    """

    name = "conll_folder"

    def __init__(self, root_dir, tag_column=-1, data_dir=None):
        root_dir = os.path.expanduser(os.fspath(root_dir))
        if not os.path.isdir(root_dir):
            raise ValueError(
                "Received an invalid value for argument `root_dir`, expected "
                f"an existing folder. Received: root_dir={root_dir!r}"
            )
        files = sorted(
            name for name in os.listdir(root_dir)
            if os.path.isfile(os.path.join(root_dir, name))
        )
        stray = [name for name in files if not SPLIT_FILE_RE.match(name)]
        if stray or not files:
            raise ValueError(
                f"Folder {root_dir!r} must hold only CoNLL files named "
                "{split}.conll (or .iob, .iob2, .bio, .txt, .tsv, optionally "
                f".gz), one per split. Received: files {files}"
            )
        split_files = {}
        for name in files:
            split = SPLIT_FILE_RE.match(name).group(1)
            if split in split_files:
                raise ValueError(
                    f"Folder {root_dir!r} holds two files for split "
                    f"{split!r}: {split_files[split][0]} and {name}. Expected "
                    "one file per split."
                )
            split_files[split] = [os.path.join(root_dir, name)]
        self.root_dir = root_dir
        super().__init__(
            split_files=split_files,
            config_name=_config_name(root_dir, split_files, tag_column),
            tag_column=tag_column,
            data_dir=data_dir,
        )


def _config_name(root_dir, split_files, tag_column):
    """The folder's name and a hash of its files' names and contents."""
    digest = hashlib.sha256(str(tag_column).encode())
    for split, (path,) in sorted(split_files.items()):
        digest.update(split.encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    slug = re.sub(r"[^a-z0-9_]+", "_", os.path.basename(root_dir).lower()).strip("_")
    return f"{slug or 'folder'}_{digest.hexdigest()[:16]}"
