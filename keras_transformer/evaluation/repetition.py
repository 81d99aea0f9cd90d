"""How often outputs loop: the share of texts that repeat an n-gram."""

import collections

from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from keras_transformer.layers import checks

_TOKENIZE = Tokenizer13a()


def repeats_ngram(text, n=4, min_count=3):
    """Whether some word `n`-gram occurs at least `min_count` times in `text`.

    Words are sacreBLEU's "13a" tokens (punctuation split off), the units
    BLEU counts.

    Example:

    >>> repeats_ngram("y sus hijos, y sus hijos, y sus hijos, y sus hijos")
    True
    >>> repeats_ngram("y sus hijos, y sus hijos, y sus hijos")
    False
    """
    words = _TOKENIZE(text).split()
    counts = collections.Counter(
        tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return any(count >= min_count for count in counts.values())


def repetition_rate(texts, n=4, min_count=3):
    """The share of `texts` that repeat some word `n`-gram `min_count`+ times.

    Translations that loop ("y sus hijos, y sus hijos, ...") repeat n-grams
    far more often than human text does; compare the hypotheses' rate with
    the references'.

    Args:
        texts: A non-empty list of strings.
        n: The n-gram length, in "13a" tokens.
        min_count: Occurrences that count as a repeat.

    Returns:
        A float in [0, 1].

    Example:

    >>> repetition_rate(["a b c d a b c d a b c d", "a b c d e f"])
    0.5
    """
    n = checks.positive_int("n", n)
    min_count = checks.positive_int("min_count", min_count)
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise checks.invalid_argument("texts", "a list of strings", texts)
    texts = list(texts)
    if not texts:
        raise checks.invalid_argument("texts", "a non-empty list of strings", texts)
    return sum(repeats_ngram(t, n, min_count) for t in texts) / len(texts)
