"""A tokenizer folder that remembers what it was trained on.

A run's folder holds its tokenizer next to its model and checkpoints. A
later run in the same folder may reuse that tokenizer only if it would
train the same one (same texts, same settings): otherwise the model, the
checkpoints and the metrics there belong to other data, and reusing the
folder would silently mix the two. `prepare_tokenizer` writes
`training_data.json` beside the tokenizer and enforces that rule.
"""

import hashlib
import json
import os

from keras_transformer.data.tokenizer import CONFIG_FILENAME
from keras_transformer.data.tokenizer import SubwordTokenizer

RECORD_FILENAME = "training_data.json"
RECORD_FORMAT_VERSION = 1
# The entries that decide whether a tokenizer may be reused.
COMPARED = ("texts_sha256", "num_texts", "vocabulary_size", "seed")


def texts_fingerprint(texts):
    """SHA-256 of the texts in order (each UTF-8 encoded, then a NUL)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8") if isinstance(text, str) else text)
        digest.update(b"\0")
    return digest.hexdigest()


def prepare_tokenizer(directory, texts, vocabulary_size, seed=0, data=None,
                      argument="directory"):
    """Loads the tokenizer in `directory` if it was trained on these texts
    with these settings; trains and saves one there if there is none.

    Args:
        directory: The tokenizer folder.
        texts: The training texts, a list of `str` (sources and targets).
        vocabulary_size: As for `SubwordTokenizer.train`.
        seed: As for `SubwordTokenizer.train`.
        data: A JSON-able description of the data (dataset, split,
            direction), recorded and shown in messages; not compared.
        argument: How the caller's user names the folder, for messages
            (e.g. "--output-dir").

    Returns:
        `(tokenizer, reused)`.

    Raises:
        ValueError: when `directory` holds a tokenizer trained on other
            texts or settings, or one without a record of them.

    Example:

    >>> texts = ["the cat sat", "el gato"] * 5
    >>> folder = getfixture("tmp_path") / "tokenizer"
    >>> _, reused = prepare_tokenizer(folder, texts, vocabulary_size=280)
    >>> _, reused_again = prepare_tokenizer(folder, texts, vocabulary_size=280)
    >>> reused, reused_again
    (False, True)
    """
    directory = os.fspath(directory)
    texts = list(texts)
    record = {
        "format_version": RECORD_FORMAT_VERSION,
        "texts_sha256": texts_fingerprint(texts),
        "num_texts": len(texts),
        "vocabulary_size": vocabulary_size,
        "seed": seed,
        "data": data,
    }
    record_path = os.path.join(directory, RECORD_FILENAME)
    if os.path.isfile(os.path.join(directory, CONFIG_FILENAME)):
        previous = _read_record(record_path)
        if previous is None:
            raise ValueError(
                f"Refusing to reuse the tokenizer in {directory}: it has no "
                f"{RECORD_FILENAME}, so what it was trained on is unknown, and "
                f"the model and checkpoints beside it may belong to other data. "
                f"{_advice(directory, argument)}"
            )
        differences = [
            f"{key}: {previous.get(key)!r} then, {record[key]!r} now"
            for key in COMPARED
            if previous.get(key) != record[key]
        ]
        if differences:
            raise ValueError(
                f"Refusing to reuse the tokenizer in {directory}: it was "
                f"trained on {_describe(previous)}, and this run trains on "
                f"{_describe(record)} ({'; '.join(differences)}). The model, "
                f"checkpoints and metrics beside it belong to that run. "
                f"{_advice(directory, argument)}"
            )
        return SubwordTokenizer.load(directory), True
    tokenizer = SubwordTokenizer.train(texts, vocabulary_size=vocabulary_size, seed=seed)
    tokenizer.save(directory)
    with open(record_path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    return tokenizer, False


def read_record(directory):
    """The `training_data.json` of a tokenizer folder, or `None`."""
    return _read_record(os.path.join(os.fspath(directory), RECORD_FILENAME))


def _read_record(path):
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _describe(record):
    data = record.get("data")
    what = json.dumps(data) if data else "unnamed data"
    return (f"{what} ({record.get('num_texts')} texts, vocabulary_size="
            f"{record.get('vocabulary_size')}, seed={record.get('seed')})")


def _advice(directory, argument):
    run_dir = os.path.dirname(os.path.abspath(directory))
    received = directory if argument == "directory" else run_dir
    return (f"Give this run a new folder ({argument}), or delete {run_dir} to "
            f"start over there. Received: {argument}={received!r}")
