"""The built-in question answering set as a TensorFlow Datasets builder.

Importing this module (or `keras_transformer.data`) registers the dataset
`public_domain_qa` with TFDS. Nothing is downloaded: the examples come from
the SQuAD-format JSON files shipped in
`keras_transformer/data/public_domain_qa_json/` (see the README there).

It is a SMALL, HAND-MADE set (252 questions over 24 passages) for the
package's default run and tests. Scores on it are not SQuAD scores.
"""

import importlib.resources
import logging

import tensorflow_datasets as tfds

from keras_transformer.data import squad_format

logger = logging.getLogger(__name__)

FILES_PACKAGE = "keras_transformer.data.public_domain_qa_json"
SPLITS = ("train", "validation")

_DESCRIPTION = """\
A small, hand-made extractive question answering set in the SQuAD v2.0
format, written for the keras_transformer package's default run and tests.
It is NOT SQuAD: scores on it are not comparable with SQuAD scores.

252 questions over 24 public-domain passages, 29 of them unanswerable
(`is_impossible`), split by passage: train (18 passages, 192 questions, 21
unanswerable) and validation (6 passages, 60 questions, 8 unanswerable; most
validation questions have two acceptable answers).

Passages: King James Version verses copied from the package's Bible corpus
(Genesis, 1 Samuel, Matthew, Luke, Exodus, Judges, Acts, 1 Kings, Ruth,
Jonah, Daniel), and texts typed from public-domain works, each preceded by
one introductory sentence written for the set: the US Constitution
(Preamble, Article I sections 1-2, Amendments I-III, XIII, XIX), the
Declaration of Independence, Lincoln's Gettysburg Address and Second
Inaugural Address, and the openings of Moby-Dick, Pride and Prejudice, A
Tale of Two Cities, A Scandal in Bohemia, Frankenstein and Alice's
Adventures in Wonderland. Questions and answers were written by hand; every
`answer_start` is checked against its context.

Licence: the passages are in the public domain; the questions, answers and
introductory sentences are part of keras_transformer (Apache-2.0).
"""


class PublicDomainQa(tfds.core.GeneratorBasedBuilder):
    """TFDS builder of `public_domain_qa`, the built-in hand-made QA set.

    Features: those of TFDS's `squad/v2.0` (`id`, `title`, `context`,
    `question`, `answers`, `plausible_answers`, `is_impossible`). Splits:
    `train` and `validation`.

    Example:

    >>> builder = tfds.builder("public_domain_qa", data_dir=getfixture("tmp_path"))
    >>> builder.download_and_prepare()
    >>> builder.info.splits["validation"].num_examples
    60
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "24 passages, 252 questions (29 unanswerable)."}

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=_DESCRIPTION,
            features=squad_format.squad_features(),
            supervised_keys=None,
            disable_shuffling=True,
            license="Passages public domain; questions and answers Apache-2.0",
            redistribution_info={
                "license": "Passages public domain; questions and answers Apache-2.0"
            },
        )

    def _log_download_bytes(self):
        logger.info(
            "Preparing %s from the files shipped in %s (no download) into %s.",
            self.name, FILES_PACKAGE, self.data_dir,
        )

    def _log_download_done(self):
        logger.info("Prepared %s in %s.", self.name, self.data_dir)

    def _split_generators(self, dl_manager):
        del dl_manager  # The files ship with the package.
        return {split: self._generate_examples(split) for split in SPLITS}

    def _generate_examples(self, split):
        resource = importlib.resources.files(FILES_PACKAGE) / f"{split}.json"
        with importlib.resources.as_file(resource) as path:
            yield from squad_format.read_squad_json(path)
