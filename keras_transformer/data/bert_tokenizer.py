"""BERT's WordPiece tokenizer, on the Hugging Face `tokenizers` library."""

import dataclasses
import json
import numbers
import os
import shutil

import tokenizers
from tokenizers import decoders
from tokenizers import normalizers
from tokenizers import pre_tokenizers
from tokenizers import processors

from keras_transformer.layers import checks

VOCABULARY_FILENAME = "vocab.txt"
CONFIG_FILENAME = "tokenizer_config.json"
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# Longer words become one [UNK], as in BERT's reference tokenizer.
MAX_WORD_CHARACTERS = 100


@dataclasses.dataclass
class BertEncoding:
    """One encoded text (or text pair), as plain lists of equal length.

    Attributes:
        token_ids: Token ids, with [CLS] first and [SEP] after each text.
        segment_ids: 0 for [CLS], the first text and its [SEP]; 1 for the
            second text and its [SEP].
        offsets: `(start, end)` character offsets of each token in the string
            it came from (the text, the pair text, or the word for
            `encode_words`); `(0, 0)` for [CLS] and [SEP].
        sequence_ids: `None` for [CLS] / [SEP], 0 for the text, 1 for the
            pair text.
        word_ids: The index of the word each token belongs to (counted per
            text; the index in `words` for `encode_words`); `None` for
            [CLS] / [SEP].
    """

    token_ids: list
    segment_ids: list
    offsets: list
    sequence_ids: list
    word_ids: list

    def __len__(self):
        return len(self.token_ids)


class BertTokenizer:
    """The uncased / cased WordPiece tokenizer of BERT (Devlin et al. 2019).

    Text is cleaned (control characters dropped, whitespace unified), CJK
    characters are split apart, and with `lowercase=True` it is lowercased
    and stripped of accents; it is then split on whitespace and punctuation
    and each word is cut into the longest vocabulary pieces, left to right
    ("##" marks a continuation); a word with no such cut, or longer than 100
    characters, becomes [UNK]. Ids and offsets equal those of Hugging Face's
    `BertTokenizer`. The special tokens [PAD], [UNK], [CLS], [SEP] and
    [MASK] must be in the vocabulary; written in the text, they stay whole.

    Nothing is truncated: callers window or reject sequences longer than
    their model's `max_sequence_length`.

    Args:
        vocabulary_file: A `vocab.txt`, one token per line; the line number
            (from 0) is the id.
        lowercase: Whether to lowercase and strip accents (uncased models).

    Example:

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "vocab.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ...                            "hello", "world", "!", "##s"]))
    >>> tokenizer = BertTokenizer(path)
    >>> encoding = tokenizer.encode("Hello worlds!")
    >>> encoding.token_ids, encoding.offsets
    ([2, 5, 6, 8, 7, 3], [(0, 0), (0, 5), (6, 11), (11, 12), (12, 13), (0, 0)])
    >>> tokenizer.decode(encoding.token_ids)
    'hello worlds!'
    """

    def __init__(self, vocabulary_file, lowercase=True):
        self.vocabulary_file = os.fspath(vocabulary_file)
        self.lowercase = bool(lowercase)
        self._vocabulary, self._num_lines = _read_vocabulary(self.vocabulary_file)
        missing = [t for t in SPECIAL_TOKENS if t not in self._vocabulary]
        if missing:
            raise ValueError(
                "Received an invalid value for argument `vocabulary_file`, "
                f"expected a vocabulary holding {list(SPECIAL_TOKENS)}. "
                f"Received: vocabulary_file={self.vocabulary_file!r} "
                f"(missing {missing})"
            )
        self.pad_id = self._vocabulary["[PAD]"]
        self.unk_id = self._vocabulary["[UNK]"]
        self.cls_id = self._vocabulary["[CLS]"]
        self.sep_id = self._vocabulary["[SEP]"]
        self.mask_id = self._vocabulary["[MASK]"]
        self._tokenizer = self._build()

    def _build(self):
        tokenizer = tokenizers.Tokenizer(
            tokenizers.models.WordPiece(
                self._vocabulary,
                unk_token="[UNK]",
                max_input_chars_per_word=MAX_WORD_CHARACTERS,
            )
        )
        # strip_accents=None follows `lowercase`, as in BERT.
        tokenizer.normalizer = normalizers.BertNormalizer(
            clean_text=True,
            handle_chinese_chars=True,
            strip_accents=None,
            lowercase=self.lowercase,
        )
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.post_processor = processors.BertProcessing(
            ("[SEP]", self.sep_id), ("[CLS]", self.cls_id)
        )
        tokenizer.decoder = decoders.WordPiece(prefix="##")
        tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
        return tokenizer

    @property
    def vocabulary_size(self):
        """V, the number of ids (lines of the vocabulary file)."""
        return self._num_lines

    def encode(self, text, text_pair=None):
        """Encodes `text` (and `text_pair`) as [CLS] text [SEP] (pair [SEP])."""
        _check_text("text", text)
        if text_pair is not None:
            _check_text("text_pair", text_pair)
        return _to_encoding(self._tokenizer.encode(text, text_pair))

    def encode_words(self, words, words_pair=None):
        """Encodes pre-split words (for token classification).

        `word_ids` index into `words` (and `words_pair`); offsets are within
        each word.
        """
        _check_words("words", words)
        if words_pair is not None:
            _check_words("words_pair", words_pair)
        return _to_encoding(
            self._tokenizer.encode(words, words_pair, is_pretokenized=True)
        )

    def id_to_token(self, token_id):
        token = None
        if isinstance(token_id, numbers.Integral) and 0 <= token_id:
            token = self._tokenizer.id_to_token(int(token_id))
        if token is None:
            raise ValueError(
                "Received an invalid value for argument `token_id`, expected "
                f"an id in [0, {self.vocabulary_size}). Received: "
                f"token_id={token_id!r}"
            )
        return token

    def token_to_id(self, token):
        """Returns the id of `token`, or `None` if it is not in the vocabulary."""
        return self._vocabulary.get(token)

    def decode(self, token_ids, skip_special_tokens=True):
        """Returns the text of `token_ids`, joining "##" pieces to words."""
        return self._tokenizer.decode(
            [int(i) for i in token_ids], skip_special_tokens=skip_special_tokens
        )

    def save(self, directory):
        """Writes `vocab.txt` and `tokenizer_config.json` into `directory`."""
        directory = os.fspath(directory)
        os.makedirs(directory, exist_ok=True)
        target = os.path.join(directory, VOCABULARY_FILENAME)
        if os.path.abspath(target) != os.path.abspath(self.vocabulary_file):
            shutil.copyfile(self.vocabulary_file, target)
        with open(os.path.join(directory, CONFIG_FILENAME), "w", encoding="utf-8") as f:
            json.dump({"do_lower_case": self.lowercase}, f)

    @classmethod
    def load(cls, directory):
        """Reads a tokenizer written by `save` (or a Hugging Face folder)."""
        directory = os.fspath(directory)
        config = {}
        config_path = os.path.join(directory, CONFIG_FILENAME)
        if os.path.isfile(config_path):
            with open(config_path, encoding="utf-8") as f:
                config = json.load(f)
        return cls(
            os.path.join(directory, VOCABULARY_FILENAME),
            lowercase=config.get("do_lower_case", True),
        )

    @classmethod
    def from_huggingface(cls, directory):
        """Builds the tokenizer of a Hugging Face BERT checkpoint folder.

        Reads `vocab.txt` and, if present, `tokenizer_config.json`
        (`do_lower_case`, default `True`). Raises `ValueError` for options
        this tokenizer does not implement.
        """
        config_path = os.path.join(os.fspath(directory), CONFIG_FILENAME)
        if os.path.isfile(config_path):
            with open(config_path, encoding="utf-8") as f:
                config = json.load(f)
            lowercase = config.get("do_lower_case", True)
            unsupported = {
                "strip_accents": (None, lowercase),
                "tokenize_chinese_chars": (True,),
                "do_basic_tokenize": (True,),
            }
            for key, allowed in unsupported.items():
                if key in config and config[key] not in allowed:
                    raise ValueError(
                        f"Unsupported tokenizer configuration: `{key}` must "
                        f"be one of {list(allowed)}. Received: "
                        f"{key}={config[key]!r}"
                    )
        return cls.load(directory)


def _read_vocabulary(path):
    if not os.path.isfile(path):
        raise ValueError(
            "Received an invalid value for argument `vocabulary_file`, "
            f"expected an existing file. Received: vocabulary_file={path!r}"
        )
    with open(path, encoding="utf-8") as f:
        tokens = [line.rstrip("\r\n") for line in f]
    if not tokens:
        raise ValueError(
            "Received an invalid value for argument `vocabulary_file`, "
            "expected a file with one token per line. Received: "
            f"vocabulary_file={path!r} (empty)"
        )
    # A duplicated token gets its last id, as in Hugging Face's loader; the
    # ids still run up to the line count.
    return {token: index for index, token in enumerate(tokens)}, len(tokens)


def _check_text(name, text):
    if not isinstance(text, str):
        raise checks.invalid_argument(name, "a `str`", text)


def _check_words(name, words):
    if not isinstance(words, (list, tuple)) or not all(
        isinstance(word, str) for word in words
    ):
        raise checks.invalid_argument(name, "a list of `str`", words)


def _to_encoding(encoding):
    return BertEncoding(
        token_ids=list(encoding.ids),
        segment_ids=list(encoding.type_ids),
        offsets=[tuple(offset) for offset in encoding.offsets],
        sequence_ids=list(encoding.sequence_ids),
        word_ids=list(encoding.word_ids),
    )
