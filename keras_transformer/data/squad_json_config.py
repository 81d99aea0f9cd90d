"""The builder config of `squad_json`: a set of local SQuAD JSON files."""

import hashlib
import os
import re

import tensorflow_datasets as tfds

_SPLIT_NAME = re.compile(r"^\w+$")


class SquadJsonConfig(tfds.core.BuilderConfig):
    """A set of SQuAD-format JSON files, one per split.

    Build it with `SquadJsonConfig.from_files`, which names the config after
    the files' contents.

    Args:
        files: `{split_name: path}`.
        **kwargs: `tfds.core.BuilderConfig` arguments (`name`, ...).
    """

    def __init__(self, *, files, **kwargs):
        super().__init__(**kwargs)
        self.files = dict(files)

    @classmethod
    def from_files(cls, files):
        """The config of `{split_name: path}`, named after their contents.

        Raises:
            ValueError: for an empty mapping, a split name that is not a word
                (letters, digits, `_`), or a path that is not a file.
        """
        if not files:
            raise ValueError(
                "Received an invalid value for argument `files`, expected a "
                "non-empty {split: path} mapping. Received: files={}"
            )
        digest = hashlib.sha256()
        resolved = {}
        for split, path in sorted(files.items()):
            if not isinstance(split, str) or not _SPLIT_NAME.match(split):
                raise ValueError(
                    "Received an invalid split name, expected letters, digits "
                    f"or '_' only (a TFDS split name). Received: {split!r}"
                )
            path = os.path.abspath(os.path.expanduser(os.fspath(path)))
            if not os.path.isfile(path):
                raise ValueError(
                    f"Received an invalid path for split {split!r}, expected "
                    f"an existing SQuAD-format JSON file. Received: {path!r}"
                )
            digest.update(split.encode() + b"\0")
            with open(path, "rb") as file:
                digest.update(hashlib.sha256(file.read()).digest())
            resolved[split] = path
        return cls(
            name=f"files_{digest.hexdigest()[:16]}",
            description="; ".join(f"{s}: {p}" for s, p in resolved.items()),
            files=resolved,
        )
