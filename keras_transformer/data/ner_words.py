"""Word splitting for named-entity recognition, with character offsets.

The one rule that turns raw text into words for NER: the shipped corpus was
split with it (scripts/build_ner_corpus.py), and raw text to tag goes
through it, so that training and prediction see the same words. Data that
arrives split into words another way (CoNLL files, tweets) should be tagged
as words (`EntityTagger.tag_words`), not joined and split again. Pure
Python.

The rule: URLs (`http://`, `https://`, `www.`) stay whole, without a final
punctuation mark; `@user` and `#tag` stay whole; runs of letters, digits
and `_`, joined by `-` or an apostrophe, are words ("Beth-el", "don't"),
with a final possessive "'s" split off; every other non-space character is
a word of its own.
"""

import re

# A word is a URL (kept whole, without a final punctuation mark), an
# @mention or #hashtag (as tweets and their NER data have them), or a run
# of letters/digits/underscore, possibly joined by hyphens or apostrophes
# ("Beth-el", "don't"); every other non-space character is a word of its
# own. A final possessive "'s" is split off, as in CoNLL-2003.
_WORD_RE = re.compile(
    r"(?:https?://|www\.)\S*[^\s.,;:!?)\]}'\"\u2019\u201d]"
    r"|[@#]\w+"
    r"|\w+(?:[-'\u2019]\w+)*"
    r"|[^\w\s]"
)
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
    >>> [word for word, _, _ in split_words("@abram see https://x.org/a?b=1. #Canaan!")]
    ['@abram', 'see', 'https://x.org/a?b=1', '.', '#Canaan', '!']
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
