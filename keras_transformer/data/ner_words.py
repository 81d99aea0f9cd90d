"""Word splitting for named-entity recognition, with character offsets.

The one rule that turns raw text into the words NER data is made of: the
shipped corpus was split with it (scripts/build_ner_corpus.py), and text to
tag at prediction time goes through it, so training and prediction see the
same words. Pure Python.
"""

import re

# A word is a run of letters/digits/underscore, possibly joined by hyphens or
# apostrophes ("Beth-el", "don't"); every other non-space character is a
# word of its own. A final possessive "'s" is split off, as in CoNLL-2003.
_WORD_RE = re.compile(r"\w+(?:[-'\u2019]\w+)*|[^\w\s]")
_POSSESSIVE_RE = re.compile(r"^(.+)([\u2019']s)$")


def split_words(text):
    """Splits `text` into words with their character offsets.

    Args:
        text: A string.

    Returns:
        A list of `(word, start, end)`, with `text[start:end] == word`.

    Example:

    >>> split_words("Abram's tent, near Beth-el.")
    [('Abram', 0, 5), ("'s", 5, 7), ('tent', 8, 12), (',', 12, 13), ('near', 14, 18), ('Beth-el', 19, 26), ('.', 26, 27)]
    """
    if not isinstance(text, str):
        raise ValueError(
            "Received an invalid value for argument `text`, expected a `str`. "
            f"Received: text={text!r}"
        )
    words = []
    for match in _WORD_RE.finditer(text):
        start, end = match.span()
        possessive = _POSSESSIVE_RE.match(match.group())
        if possessive:
            split = start + len(possessive.group(1))
            words.append((possessive.group(1), start, split))
            words.append((possessive.group(2), split, end))
        else:
            words.append((match.group(), start, end))
    return words
