"""Named entities from a fine-tuned token classifier: words or text in, spans out.

The one definition of NER prediction. `EntityTagger` (Keras models), the
fine-tuning example's evaluation and the server's `entities` signature
(`keras_transformer.serving.text_tasks`, on exported models) all call
`tag_word_lists` and `entities_of`, so they cut words into the same
pieces, read the same piece per word and decode the same spans.

* Words: each word is cut into word pieces by the tokenizer
  (`BertTokenizer.encode_words`); a word's tag is the arg-max of the logits
  at its **first** piece, as in training (`ner_pipeline`); a word that
  gives no piece (e.g. a control character) is tagged "O".
* Text: raw text is split into words by `keras_transformer.data.
  split_words` first (the splitter the built-in corpus was made with;
  it keeps `@user`, `#tag` and URLs whole). Data that arrives split into
  words (CoNLL files, tweets split by another tool) should be tagged as
  words (`tag_words`), so that prediction sees the words training saw.
* Entities: read from the IOB / IOB2 / IOBES tags by `keras_transformer.
  evaluation.extract_entities`; each gets a score, the mean probability
  of its words' predicted tags.
* Nothing is cut: a sentence longer than `max_length` word pieces
  ([CLS] and [SEP] included) raises a `ValueError` that names it.
"""

import json
import os

import keras
import numpy as np

from keras_transformer.data.bert_tokenizer import BertTokenizer
from keras_transformer.data.ner_pipeline import first_pieces
from keras_transformer.data.ner_words import split_words
from keras_transformer.evaluation import extract_entities
from keras_transformer.layers import checks
from keras_transformer.training.model_selection import slim_save

MODEL_FILE = "model.keras"
TOKENIZER_DIR = "tokenizer"
TAGS_FILE = "tags.json"


def _softmax(logits):
    logits = np.asarray(logits, np.float64)
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def _padded(encodings, pad_id):
    length = max(len(encoding.token_ids) for encoding in encodings)
    arrays = {
        "token_ids": np.full((len(encodings), length), pad_id, np.int32),
        "segment_ids": np.zeros((len(encodings), length), np.int32),
        "padding_mask": np.zeros((len(encodings), length), np.int32),
    }
    for row, encoding in enumerate(encodings):
        arrays["token_ids"][row, : len(encoding.token_ids)] = encoding.token_ids
        arrays["padding_mask"][row, : len(encoding.token_ids)] = 1
    return arrays


def check_word_lists(word_lists, name="sentences"):
    """Raises `ValueError` unless `word_lists` is a list of lists of strings."""
    if isinstance(word_lists, str) or not isinstance(word_lists, (list, tuple)):
        raise checks.invalid_argument(
            name, "a list of sentences, each a list of word strings", word_lists)
    for index, words in enumerate(word_lists):
        if isinstance(words, str) or not isinstance(words, (list, tuple)) or not all(
            isinstance(word, str) for word in words
        ):
            raise ValueError(
                f"Received an invalid value for argument `{name}`, expected a list "
                f"of sentences, each a list of word strings. Received: "
                f"{name}[{index}]={words!r}"
            )


def tag_word_lists(word_lists, tokenizer, run, labels, max_length, batch_size=32,
                   name="sentences", limit=None):
    """The tag and its probability of every word of every sentence.

    Args:
        word_lists: Sentences, each a list of words.
        tokenizer: A `BertTokenizer`.
        run: `{"token_ids", "segment_ids", "padding_mask"}` (B, T) int32 ->
            (B, T, L) logits, or a dict with "logits".
        labels: The L tag names, "O" among them.
        max_length: The most word pieces per sentence, [CLS] and [SEP]
            included; longer sentences raise `ValueError`.
        batch_size: Sentences per `run` call (sentences of similar length
            are batched together; results come back in input order).
        name: How the sentences are named in error messages.
        limit: Where `max_length` comes from, for the error message.

    Returns:
        `(tags, scores)`: for each sentence, its words' tag names and the
        probability of each (`None` for a word without pieces, tagged "O").
    """
    check_word_lists(word_lists, name)
    batch_size = checks.positive_int("batch_size", batch_size)
    outside = labels.index("O")
    encodings, starts = [], []
    for index, words in enumerate(word_lists):
        encoding = tokenizer.encode_words(list(words))
        if len(encoding.token_ids) > max_length:
            raise ValueError(
                f"{name}[{index}] is {len(encoding.token_ids)} word pieces long "
                f"({len(words)} words, [CLS] and [SEP] included), more than the "
                f"limit of {max_length}{f' ({limit})' if limit else ''}. "
                "Sentences are never cut: split it."
            )
        encodings.append(encoding)
        starts.append(first_pieces(encoding.word_ids, len(words)))
    tags, scores = [None] * len(encodings), [None] * len(encodings)
    # Sentences of similar length together: little padding.
    order = sorted((i for i in range(len(encodings)) if word_lists[i]),
                   key=lambda i: len(encodings[i].token_ids))
    for first in range(0, len(order), batch_size):
        rows = order[first:first + batch_size]
        logits = run(_padded([encodings[i] for i in rows], tokenizer.pad_id))
        if isinstance(logits, dict):
            logits = logits["logits"]
        probabilities = _softmax(keras.ops.convert_to_numpy(logits))
        for row, index in enumerate(rows):
            ids = [int(np.argmax(probabilities[row, s])) if s >= 0 else outside
                   for s in starts[index]]
            tags[index] = [labels[i] for i in ids]
            scores[index] = [float(probabilities[row, s, i]) if s >= 0 else None
                             for s, i in zip(starts[index], ids)]
    for index in range(len(encodings)):
        if tags[index] is None:  # an empty sentence
            tags[index], scores[index] = [], []
    return tags, scores


def entities_of(tags, scores):
    """The entities of one sentence: `(type, first, end, score)`, word indices.

    `end` is exclusive; `score` is the mean probability of the entity's
    words' tags (words without pieces left out).

    Example:

    >>> entities_of(["B-PER", "I-PER", "O", "B-LOC"], [0.9, 0.7, 0.99, 0.6])
    [('PER', 0, 2, 0.8), ('LOC', 3, 4, 0.6)]
    """
    entities = []
    for entity_type, first, end in extract_entities(tags):
        known = [s for s in scores[first:end] if s is not None]
        entities.append((entity_type, first, end, float(np.mean(known)) if known else 0.0))
    return entities


class EntityTagger:
    """Tags named entities with a fine-tuned `BertTokenClassifier`.

    Args:
        model: A `BertTokenClassifier` (or any model from the BERT input
            dict to (B, T, L) logits).
        tokenizer: The `BertTokenizer` of its encoder.
        tag_names: The L tag names, in the model's label order.
        max_length: The most word pieces per sentence (default: the
            encoder's `max_sequence_length`).
        batch_size: Sentences per model call.

    Example (an untrained model tags some words; the spans are the text's):

    >>> import os, tempfile
    >>> from keras_transformer.models import BertEncoder, BertTokenClassifier
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "vocab.txt"), "w") as f:
    ...     _ = f.write("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "paul",
    ...                             "went", "to", "rome", "."]))
    >>> encoder = BertEncoder(vocabulary_size=10, num_layers=1, num_heads=2,
    ...                       hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    >>> tagger = EntityTagger(BertTokenClassifier(encoder, num_labels=3),
    ...                       BertTokenizer(os.path.join(folder, "vocab.txt")),
    ...                       ["O", "B-PER", "B-LOC"])
    >>> (entities,) = tagger.tag(["Paul went to Rome."])
    >>> all(e["text"] == "Paul went to Rome."[e["start"]:e["end"]] for e in entities)
    True
    >>> (entities,) = tagger.tag_words([["Paul", "went", "to", "Rome", "."]])
    >>> all(e["text"] == " ".join(e["words"]) for e in entities)
    True
    """

    def __init__(self, model, tokenizer, tag_names, max_length=None, batch_size=32):
        if not callable(model):
            raise checks.invalid_argument("model", "a token-classification model", model)
        tag_names = list(tag_names)
        if "O" not in tag_names or not all(isinstance(t, str) for t in tag_names):
            raise checks.invalid_argument(
                "tag_names", "a list of tag strings with 'O' among them", tag_names)
        num_labels = getattr(model, "num_labels", len(tag_names))
        if num_labels != len(tag_names):
            raise ValueError(
                f"The model has {num_labels} labels but {len(tag_names)} tag names "
                f"were given. Received: tag_names={tag_names}"
            )
        if max_length is None:
            encoder = getattr(model, "encoder", None)
            max_length = getattr(encoder, "max_sequence_length", None)
            if max_length is None:
                raise checks.invalid_argument(
                    "max_length", "a positive integer (the model has no encoder "
                    "to read it from)", max_length)
        self.model = model
        self.tokenizer = tokenizer
        self.tag_names = tag_names
        self.max_length = checks.positive_int("max_length", max_length)
        self.batch_size = checks.positive_int("batch_size", batch_size)

    @classmethod
    def load(cls, directory, **kwargs):
        """The tagger of a fine-tuning run's output folder.

        The folder holds `model.keras`, `tokenizer/` and `tags.json`, as
        `save` (and `examples.finetune_ner`) writes them.
        """
        directory = os.fspath(directory)
        missing = [name for name in (MODEL_FILE, TOKENIZER_DIR, TAGS_FILE)
                   if not os.path.exists(os.path.join(directory, name))]
        if missing:
            raise ValueError(
                "Received an invalid value for argument `directory`, expected a "
                f"folder with {MODEL_FILE}, {TOKENIZER_DIR}/ and {TAGS_FILE}; "
                f"missing {missing}. Received: directory={directory!r}"
            )
        model = keras.saving.load_model(os.path.join(directory, MODEL_FILE), compile=False)
        tokenizer = BertTokenizer.load(os.path.join(directory, TOKENIZER_DIR))
        with open(os.path.join(directory, TAGS_FILE), encoding="utf-8") as f:
            tag_names = json.load(f)
        return cls(model, tokenizer, tag_names, **kwargs)

    def save(self, directory):
        """Writes what `load` reads; the model without optimizer state."""
        directory = os.fspath(directory)
        os.makedirs(directory, exist_ok=True)
        slim_save(self.model, os.path.join(directory, MODEL_FILE))
        self.tokenizer.save(os.path.join(directory, TOKENIZER_DIR))
        with open(os.path.join(directory, TAGS_FILE), "w", encoding="utf-8") as f:
            json.dump(self.tag_names, f, indent=2)

    def _run(self, arrays):
        return self.model.predict_on_batch(arrays)

    def predict_tags(self, sentences):
        """The tag name of every word: one list per sentence of words."""
        tags, _ = tag_word_lists(sentences, self.tokenizer, self._run, self.tag_names,
                                 self.max_length, self.batch_size)
        return tags

    def tag_words(self, sentences):
        """Entities in sentences that are already split into words.

        Args:
            sentences: A list of sentences, each a list of word strings.

        Returns:
            For each sentence, a list of entities in order, each a dict:
            "entity" (its type), "start" and "end" (word indices, end
            exclusive), "words" (the entity's words), "text" (the words
            joined by spaces) and "score".
        """
        return tag_split_words(sentences, self.tokenizer, self._run, self.tag_names,
                               self.max_length, self.batch_size, name="sentences")

    def tag(self, texts):
        """Entities in raw texts, as character spans.

        Each text is split into words by `split_words` first.

        Args:
            texts: A list of strings.

        Returns:
            For each text, a list of entities in order, each a dict:
            "entity", "start" and "end" (character offsets, end exclusive),
            "text" (`text[start:end]`) and "score".
        """
        return tag_texts(texts, self.tokenizer, self._run, self.tag_names,
                         self.max_length, self.batch_size)


def tag_texts(texts, tokenizer, run, labels, max_length, batch_size=32, name="texts",
              limit=None):
    """`EntityTagger.tag` on any `run` (see `tag_word_lists`)."""
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)) or not all(
        isinstance(text, str) for text in texts
    ):
        raise checks.invalid_argument(name, "a list of strings", texts)
    split = [split_words(text) for text in texts]
    tags, scores = tag_word_lists([[w for w, _, _ in words] for words in split],
                                  tokenizer, run, labels, max_length, batch_size,
                                  name=name, limit=limit)
    results = []
    for text, words, sentence_tags, sentence_scores in zip(texts, split, tags, scores):
        entities = []
        for entity_type, first, end, score in entities_of(sentence_tags, sentence_scores):
            start, stop = words[first][1], words[end - 1][2]
            entities.append({"entity": entity_type, "start": start, "end": stop,
                             "text": text[start:stop], "score": score})
        results.append(entities)
    return results


def tag_split_words(word_lists, tokenizer, run, labels, max_length, batch_size=32,
                    name="words", limit=None):
    """`EntityTagger.tag_words` on any `run` (see `tag_word_lists`)."""
    tags, scores = tag_word_lists(word_lists, tokenizer, run, labels, max_length,
                                  batch_size, name=name, limit=limit)
    return [
        [{"entity": entity_type, "start": first, "end": end,
          "words": list(words[first:end]), "text": " ".join(words[first:end]),
          "score": score}
         for entity_type, first, end, score in entities_of(sentence_tags, sentence_scores)]
        for words, sentence_tags, sentence_scores in zip(word_lists, tags, scores)
    ]
