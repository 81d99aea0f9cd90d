"""A SentencePiece subword tokenizer with Python and TensorFlow-graph paths.

One vocabulary is trained jointly on source and target text, so that a
`Seq2SeqTransformer` can share its embeddings between the two languages
(`share_embeddings=True`), as in "Attention Is All You Need" (section 5.1:
byte-pair encoding, a shared source-target vocabulary of about 37000 tokens).

The same serialized SentencePiece model drives both paths: `encode` /
`decode` use the `sentencepiece` package (eager Python, for preparing data
and reading results), `tf_tokenize` / `tf_detokenize` use
`tensorflow_text.SentencepieceTokenizer` (graph ops, for `tf.data` pipelines
and exported models that take and return text). Both give identical ids.
"""

import hashlib
import io
import itertools
import json
import logging
import os
import re

import numpy as np
import sentencepiece
import tensorflow as tf
import tensorflow_text
from sentencepiece import sentencepiece_model_pb2

from keras_transformer.layers import checks

logger = logging.getLogger(__name__)

MODEL_FILENAME = "tokenizer.model"
CONFIG_FILENAME = "tokenizer.json"
FORMAT_VERSION = 1
MODEL_TYPES = ("bpe", "unigram")

# SentencePiece skips training sentences longer than this many bytes (its
# default is 4192); verses are far shorter, but users' documents may not be.
MAX_SENTENCE_BYTES = 1 << 16
# Thread count is fixed rather than taken from the machine, so that a
# tokenizer trained on a laptop and on a server is the same tokenizer.
NUM_THREADS = 2


class SubwordTokenizer(tf.Module):
    """A joint source-target subword vocabulary (SentencePiece).

    Special ids are fixed: `pad_id = 0` (the padding id of every model in
    this package), `unk_id = 1`, `start_id = 2` (`"<s>"`, the decoder's
    first input) and `end_id = 3` (`"</s>"`, the last target token).
    `encode` and `tf_tokenize` add neither; the data pipeline does.

    Text is normalized with SentencePiece's `nmt_nfkc` rule (Unicode NFKC;
    tabs, other space characters and zero-width spaces become a space;
    runs of spaces collapse to one; leading and trailing spaces go), then
    split into pieces. Characters never seen in training fall back to
    their UTF-8 bytes (`byte_fallback`, the default) instead of `<unk>`.
    Tokenization is then lossless up to normalization:
    `decode(encode(x)) == normalize(x)` for every string, and `== x` when
    `x` is already normalized, as every verse of the shipped Bible corpus
    is (NFC text, single spaces, nothing that NFKC changes).

    The class is a `tf.Module`: assign it to an attribute of the module you
    export (`export_module.tokenizer = tokenizer`) and the SentencePiece
    model travels inside the SavedModel, so the exported graph can take and
    return text.

    Args:
        model_proto: A serialized SentencePiece model (`bytes`) whose special
            ids are pad=0, unk=1, bos=2, eos=3, as `SubwordTokenizer.train`
            makes them.
        name: The `tf.Module` name.

    Example:

    >>> tokenizer = SubwordTokenizer.train(
    ...     ["the cat sat on the mat", "el gato se sentó en la alfombra"] * 10,
    ...     vocabulary_size=300)
    >>> ids = tokenizer.encode(["the cat sat"])
    >>> tokenizer.decode(ids)
    ['the cat sat']
    >>> tokenizer.tf_tokenize(tf.constant(["the cat sat"])).to_list() == ids
    True
    >>> tokenizer.tf_detokenize(tf.constant(ids)).numpy()
    array([b'the cat sat'], dtype=object)
    """

    pad_id = 0
    unk_id = 1
    start_id = 2
    end_id = 3

    def __init__(self, model_proto, name="subword_tokenizer"):
        super().__init__(name=name)
        if not isinstance(model_proto, bytes) or not model_proto:
            raise checks.invalid_argument(
                "model_proto", "a serialized SentencePiece model (bytes)",
                type(model_proto).__name__,
            )
        processor = sentencepiece.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(model_proto)
        except (RuntimeError, OSError) as error:
            raise ValueError(
                "Received an invalid value for argument `model_proto`, "
                "expected a serialized SentencePiece model. SentencePiece "
                f"could not read it: {error}"
            ) from None
        special_ids = {
            "pad": processor.pad_id(),
            "unk": processor.unk_id(),
            "bos": processor.bos_id(),
            "eos": processor.eos_id(),
        }
        expected_ids = {
            "pad": self.pad_id,
            "unk": self.unk_id,
            "bos": self.start_id,
            "eos": self.end_id,
        }
        if special_ids != expected_ids:
            raise ValueError(
                "Received an invalid value for argument `model_proto`, "
                f"expected a SentencePiece model with special ids "
                f"{expected_ids}. Received: special ids {special_ids}"
            )
        self._model_proto = model_proto
        self._processor = processor
        self._tf_tokenizer = self._new_tf_tokenizer()

    # === Training ===

    @classmethod
    def train(
        cls,
        texts,
        vocabulary_size=8000,
        model_type="bpe",
        character_coverage=1.0,
        byte_fallback=True,
        max_sentences=1_000_000,
        seed=0,
    ):
        """Trains a tokenizer in memory on `texts`.

        Pass source and target sentences together (one iterable) so that
        the vocabulary covers both languages. Training reads the first
        `max_sentences` strings in order (no sampling), with a fixed thread
        count, so the same texts always give the same tokenizer: about 1 s
        for the 57,682 sentences of the Bible train split on 2 CPU cores.

        BPE is the default: it is the paper's choice and trains about 25x
        faster than the unigram language model here, with which it is on a
        par for translation quality.

        Args:
            texts: An iterable of `str` (or UTF-8 `bytes`, as `tf.data`
                yields them), one sentence each. Not a single string.
            vocabulary_size: Number of ids, special tokens and byte pieces
                included. On a corpus too small to fill it, the vocabulary
                comes out smaller (with a warning); `vocabulary_size` tells
                the actual size.
            model_type: `"bpe"` or `"unigram"`.
            character_coverage: Fraction of characters (by frequency) given
                their own piece; 1.0 keeps every character seen, so accented
                letters are never split into bytes.
            byte_fallback: Spell characters outside the vocabulary as UTF-8
                byte pieces instead of `<unk>`; costs 256 ids.
            max_sentences: Read at most this many strings from `texts`.
            seed: Seed of SentencePiece's (process-wide) random generator;
                the default BPE training does not draw from it.

        Returns:
            A `SubwordTokenizer`.
        """
        vocabulary_size = checks.positive_int("vocabulary_size", vocabulary_size)
        checks.one_of("model_type", model_type, MODEL_TYPES)
        if (
            isinstance(character_coverage, bool)
            or not isinstance(character_coverage, (int, float))
            or not 0.0 < character_coverage <= 1.0
        ):
            raise checks.invalid_argument(
                "character_coverage", "a number in (0, 1]", character_coverage
            )
        max_sentences = checks.positive_int("max_sentences", max_sentences)
        seed = checks.non_negative_int("seed", seed)
        sentences = _as_sentence_list("texts", texts, limit=max_sentences)
        if not any(sentence.strip() for sentence in sentences):
            raise checks.invalid_argument(
                "texts", "an iterable with at least one non-blank string",
                sentences[:3],
            )

        sentencepiece.set_random_generator_seed(seed)
        model_writer = io.BytesIO()
        try:
            sentencepiece.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences),
                model_writer=model_writer,
                model_type=model_type,
                vocab_size=vocabulary_size,
                # A soft limit: a small corpus gives a smaller vocabulary
                # instead of an error.
                hard_vocab_limit=False,
                character_coverage=float(character_coverage),
                byte_fallback=byte_fallback,
                normalization_rule_name="nmt_nfkc",
                pad_id=cls.pad_id,
                unk_id=cls.unk_id,
                bos_id=cls.start_id,
                eos_id=cls.end_id,
                # Determinism: every sentence is used (0 = no sampling), in
                # the given order.
                input_sentence_size=0,
                shuffle_input_sentence=False,
                max_sentence_length=MAX_SENTENCE_BYTES,
                num_threads=NUM_THREADS,
                minloglevel=2,
            )
        except RuntimeError as error:
            raise _training_error(error, vocabulary_size) from None
        tokenizer = cls(model_writer.getvalue())
        if tokenizer.vocabulary_size < vocabulary_size:
            logger.warning(
                "The training texts fill only %d of the requested %d ids; the "
                "vocabulary has %d ids.",
                tokenizer.vocabulary_size, vocabulary_size,
                tokenizer.vocabulary_size,
            )
        return tokenizer

    # === Properties ===

    @property
    def vocabulary_size(self):
        """Number of ids, V: every id is in `[0, V)`."""
        return self._processor.get_piece_size()

    @property
    def model_proto(self):
        """The serialized SentencePiece model (`bytes`)."""
        return self._model_proto

    @property
    def model_type(self):
        """`"bpe"` or `"unigram"`."""
        return _model_type_name(self._model_proto)

    def id_to_token(self, token_id):
        """The piece of one id, e.g. `"▁the"` (`▁` marks a word start)."""
        return self._processor.id_to_piece(self._check_id(token_id))

    # === Python path ===

    def normalize(self, texts):
        """What `decode(encode(texts))` returns: NFKC, single spaces, trimmed.

        Args:
            texts: A list of `str` (or UTF-8 `bytes`).

        Returns:
            A list of `str`.
        """
        normalized = []
        for text in _as_sentence_list("texts", texts):
            # SentencePiece marks spaces with "▁" and a word-initial "▁".
            pieces = self._processor.normalize(text)
            normalized.append(pieces.replace("\u2581", " ").lstrip(" "))
        return normalized

    def encode(self, texts):
        """Token ids of each text, without start or end ids.

        Args:
            texts: A list of `str` (or UTF-8 `bytes`), B of them.

        Returns:
            A list of B lists of `int`.
        """
        return self._processor.encode(_as_sentence_list("texts", texts))

    def decode(self, ids):
        """Text of each id sequence, read up to its first end id.

        Padding and start ids are skipped, so model outputs can be passed
        as they are.

        Args:
            ids: A batch of id sequences: a (B, T) integer array or tensor,
                a `tf.RaggedTensor`, or a list of B lists of `int`.

        Returns:
            A list of B `str`.
        """
        rows = _as_id_rows("ids", ids)
        cleaned = []
        for row in rows:
            if self.end_id in row:
                row = row[: row.index(self.end_id)]
            for token_id in row:
                self._check_id(token_id, argument="ids")
            cleaned.append(
                [i for i in row if i not in (self.pad_id, self.start_id)]
            )
        return self._processor.decode(cleaned)

    # === Graph path ===

    def tf_tokenize(self, texts):
        """Graph-mode `encode`.

        Args:
            texts: A `tf.string` tensor of shape (B,) (or a scalar).

        Returns:
            An int32 `tf.RaggedTensor` of shape (B, None) (a (T,) tensor for
            a scalar input), the same ids as `encode`.
        """
        return self._live_tf_tokenizer().tokenize(texts)

    def tf_detokenize(self, ids):
        """Graph-mode `decode`: read up to the first end id, skip padding.

        Args:
            ids: An integer tensor of shape (B, T) or a `tf.RaggedTensor`
                of shape (B, None); or one sequence of shape (T,).

        Returns:
            A `tf.string` tensor of shape (B,) (a scalar for a (T,) input).
        """
        if isinstance(ids, tf.RaggedTensor):
            ids = ids.to_tensor(default_value=self.pad_id)
        ids = tf.cast(tf.convert_to_tensor(ids), tf.int32)
        rank = ids.shape.rank
        if rank not in (1, 2):
            raise checks.invalid_argument(
                "ids", "a tensor of shape (B, T) or (T,)", ids.shape
            )
        batch = ids if rank == 2 else ids[tf.newaxis]  # (B, T)
        # Positions before the first end id: the cumulative count is 0.
        before_end = tf.equal(
            tf.cumsum(tf.cast(tf.equal(batch, self.end_id), tf.int32), axis=-1),
            0,
        )
        keep = (
            before_end
            & tf.not_equal(batch, self.pad_id)
            & tf.not_equal(batch, self.start_id)
        )
        texts = self._live_tf_tokenizer().detokenize(
            tf.ragged.boolean_mask(batch, keep)
        )
        return texts if rank == 2 else texts[0]

    # === Saving ===

    def save(self, path):
        """Writes `tokenizer.model` and `tokenizer.json` into folder `path`."""
        path = os.fspath(path)
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, MODEL_FILENAME), "wb") as f:
            f.write(self._model_proto)
        config = {
            "class_name": type(self).__name__,
            "format_version": FORMAT_VERSION,
            "model_type": self.model_type,
            "vocabulary_size": self.vocabulary_size,
            "pad_id": self.pad_id,
            "unk_id": self.unk_id,
            "start_id": self.start_id,
            "end_id": self.end_id,
            # Ties the JSON to its model file: a swapped file is caught on load.
            "model_sha256": hashlib.sha256(self._model_proto).hexdigest(),
        }
        with open(os.path.join(path, CONFIG_FILENAME), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
            f.write("\n")

    @classmethod
    def load(cls, path):
        """Reads a tokenizer written by `save` from folder `path`."""
        path = os.fspath(path)
        model_path = os.path.join(path, MODEL_FILENAME)
        config_path = os.path.join(path, CONFIG_FILENAME)
        missing = [p for p in (model_path, config_path) if not os.path.isfile(p)]
        if missing:
            raise ValueError(
                "Received an invalid value for argument `path`, expected a "
                f"folder written by `SubwordTokenizer.save` (with "
                f"{MODEL_FILENAME} and {CONFIG_FILENAME}). Missing: "
                f"{', '.join(missing)}. Received: path={path!r}"
            )
        with open(model_path, "rb") as f:
            model_proto = f.read()
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
        if config.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"Received an invalid value for argument `path`, expected "
                f"{CONFIG_FILENAME} format_version={FORMAT_VERSION}. Received: "
                f"format_version={config.get('format_version')!r} in {path!r}"
            )
        if config.get("model_sha256") != hashlib.sha256(model_proto).hexdigest():
            raise ValueError(
                "Received an invalid value for argument `path`, expected "
                f"{MODEL_FILENAME} to be the model that {CONFIG_FILENAME} "
                f"describes, but its SHA-256 differs. Received: path={path!r}"
            )
        return cls(model_proto)

    # === Helpers ===

    def _new_tf_tokenizer(self):
        return tensorflow_text.SentencepieceTokenizer(
            model=self._model_proto, out_type=tf.int32
        )

    def _live_tf_tokenizer(self):
        """The graph tokenizer, created again if its model was freed.

        The SentencePiece op's kernel owns the loaded model, and
        `keras.backend.clear_session()` clears TensorFlow's kernel cache,
        which frees it. A one-string probe, run eagerly (also while a
        function or a `tf.data` map is being traced), finds out. Pipelines
        traced before a `clear_session()` must be built again after it.
        """
        with tf.init_scope():
            try:
                self._tf_tokenizer.tokenize(tf.constant([""]))
            except tf.errors.NotFoundError:
                self._tf_tokenizer = self._new_tf_tokenizer()
        return self._tf_tokenizer

    def _check_id(self, token_id, argument="token_id"):
        if not 0 <= token_id < self.vocabulary_size:
            raise checks.invalid_argument(
                argument, f"ids in [0, {self.vocabulary_size})", token_id
            )
        return int(token_id)


def _as_sentence_list(name, texts, limit=None):
    """Returns `texts` as a list of `str`, decoding UTF-8 `bytes`."""
    if isinstance(texts, (str, bytes)):
        raise checks.invalid_argument(
            name, "a list of strings (wrap a single string in a list)", texts
        )
    try:
        iterator = iter(texts)
    except TypeError:
        raise checks.invalid_argument(name, "an iterable of strings", texts) from None
    sentences = []
    for text in itertools.islice(iterator, limit):
        if isinstance(text, np.ndarray) and text.ndim == 0:
            text = text.item()
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if not isinstance(text, str):
            raise checks.invalid_argument(
                name, "an iterable of strings", f"an item of type {type(text).__name__}"
            )
        sentences.append(text)
    if not sentences:
        raise checks.invalid_argument(name, "a non-empty iterable of strings", texts)
    return sentences


def _as_id_rows(name, ids):
    """Returns a batch of id sequences as a list of lists of `int`."""
    if isinstance(ids, tf.RaggedTensor):
        rows = ids.to_list()
    else:
        if isinstance(ids, tf.Tensor):
            ids = ids.numpy()
        if isinstance(ids, np.ndarray):
            if ids.ndim != 2:
                raise checks.invalid_argument(
                    name, "a batch of id sequences of shape (B, T)",
                    f"an array of shape {ids.shape}",
                )
            rows = ids.tolist()
        else:
            rows = [list(row) if not np.isscalar(row) else row for row in ids]
    if any(np.isscalar(row) for row in rows):
        raise checks.invalid_argument(
            name, "a batch of id sequences (wrap a single sequence in a list)", ids
        )
    return [[int(i) for i in row] for row in rows]


def _model_type_name(model_proto):
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(model_proto)
    return sentencepiece_model_pb2.TrainerSpec.ModelType.Name(
        model.trainer_spec.model_type
    ).lower()


def _training_error(error, vocabulary_size):
    """Turns SentencePiece's training errors into `ValueError`s."""
    message = str(error)
    too_small = re.search(r"smaller than required_chars\. (\d+) vs (\d+)", message)
    if too_small:
        return checks.invalid_argument(
            "vocabulary_size",
            f"at least {too_small.group(2)} (the special ids, the 256 byte "
            "pieces with byte_fallback=True, and one id per character of "
            "the training texts)",
            vocabulary_size,
        )
    return ValueError(f"SentencePiece training failed: {message}")
