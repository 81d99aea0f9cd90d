"""Your own SQuAD-format JSON files as a TensorFlow Datasets dataset.

`load_squad("path/to/file.json", split=...)` and
`load_squad("path/to/folder", split=...)` go through this builder; use it
directly for other TFDS tools:

    config = SquadJsonConfig.from_files({"train": "train.json", "dev": "dev.json"})
    builder = tfds.builder("squad_json", config=config, data_dir=...)
    builder.download_and_prepare()

Each distinct set of files is its own builder config, named after a hash of
the split names and the file contents, so editing a file prepares it again
and two sets never overwrite each other in `data_dir`. Preparing reads and
validates the files (see `squad_format.read_squad_json`); nothing is
downloaded.
"""

import logging

import tensorflow_datasets as tfds

from keras_transformer.data import squad_format
from keras_transformer.data.squad_json_config import SquadJsonConfig  # noqa: F401 (the doctest's)

logger = logging.getLogger(__name__)


class SquadJson(tfds.core.GeneratorBasedBuilder):
    """TFDS builder of `squad_json`: SQuAD-format JSON files of your own.

    Needs a `SquadJsonConfig` (`tfds.builder("squad_json",
    config=SquadJsonConfig.from_files(...))`). Features: those of TFDS's
    `squad/v2.0`, whether the files are SQuAD v1.1 or v2.0; a v1.1 question
    without answers is unanswerable.

    Example:

    >>> import importlib.resources
    >>> path = importlib.resources.files("keras_transformer.data") / "public_domain_qa_json/validation.json"
    >>> config = SquadJsonConfig.from_files({"dev": path})
    >>> builder = tfds.builder("squad_json", config=config, data_dir=getfixture("tmp_path"))
    >>> builder.download_and_prepare()
    >>> builder.info.splits["dev"].num_examples
    60
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "SQuAD v1.1 / v2.0 JSON files, validated."}

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "SQuAD-format JSON files read from local paths: "
                + (self.builder_config.description or "")
            ),
            features=squad_format.squad_features(),
            supervised_keys=None,
            disable_shuffling=True,
        )

    def _log_download_bytes(self):
        logger.info(
            "Preparing %s from local files (no download) into %s.",
            self.name, self.data_dir,
        )

    def _log_download_done(self):
        logger.info("Prepared %s in %s.", self.name, self.data_dir)

    def _split_generators(self, dl_manager):
        del dl_manager  # Local files.
        return {
            split: self._generate_examples(path)
            for split, path in self.builder_config.files.items()
        }

    def _generate_examples(self, path):
        yield from squad_format.read_squad_json(path)
