"""SQuAD exact match and F1, with the official answer normalization.

The scores of the official SQuAD evaluation scripts (v1.1 and v2.0,
https://rajpurkar.github.io/SQuAD-explorer/): answers are compared after
`normalize_answer` (lowercase, punctuation removed, the articles a / an /
the removed, whitespace collapsed), and each question scores the maximum
over its gold answers. Scores are percentages.

Unanswerable questions (SQuAD v2.0) have no gold answer: they score 1 when
the prediction is empty and 0 otherwise, as in the v2.0 script. On
answerable questions the v1.1 and v2.0 scripts agree, and so does this
module (the v2.0 script drops gold answers that normalize to nothing, e.g.
"the", which v1.1 keeps; such gold answers do not occur in SQuAD).
"""

import collections
import re
import string

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text):
    """Lowercases, removes punctuation and articles, collapses whitespace.

    Example:

    >>> normalize_answer("The  Lord's  Prayer!")
    'lords prayer'
    """
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _gold_or_empty(gold_answers):
    """The gold answers that normalize to something, or `[""]` if none do."""
    if isinstance(gold_answers, str):
        raise ValueError(
            "Received an invalid value for argument `gold_answers`, expected "
            "a list of answer strings (empty for an unanswerable question). "
            f"Received: gold_answers={gold_answers!r}"
        )
    gold = [answer for answer in gold_answers if normalize_answer(answer)]
    return gold or [""]


def _tokens(text):
    return normalize_answer(text).split()


def _f1(prediction, gold):
    prediction_tokens, gold_tokens = _tokens(prediction), _tokens(gold)
    if not prediction_tokens or not gold_tokens:
        # An empty answer only matches an empty answer.
        return float(prediction_tokens == gold_tokens)
    common = collections.Counter(prediction_tokens) & collections.Counter(gold_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(prediction_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def squad_exact_match(prediction, gold_answers):
    """1.0 if `prediction` equals a gold answer after normalization, else 0.0.

    Args:
        prediction: The predicted answer text ("" for no answer).
        gold_answers: The list of gold answer texts; empty for an
            unanswerable question.

    Example:

    >>> squad_exact_match("the King James Version", ["King James Version."])
    1.0
    >>> squad_exact_match("", [])
    1.0
    """
    return max(
        float(normalize_answer(prediction) == normalize_answer(gold))
        for gold in _gold_or_empty(gold_answers)
    )


def squad_f1(prediction, gold_answers):
    """The best token-overlap F1 of `prediction` against the gold answers.

    Tokens are the whitespace-separated words of the normalized texts;
    repeated words count as often as they occur in both.

    Args:
        prediction: The predicted answer text ("" for no answer).
        gold_answers: The list of gold answer texts; empty for an
            unanswerable question.

    Example:

    >>> round(squad_f1("in the land of Judah", ["Bethlehem of Judaea", "Judah"]), 4)
    0.4
    """
    return max(_f1(prediction, gold) for gold in _gold_or_empty(gold_answers))


def squad_scores(predictions, references):
    """Exact match and F1 of predictions against SQuAD gold answers.

    Args:
        predictions: `{question_id: predicted_text}`; "" predicts that the
            question has no answer. Ids not in `references` are ignored.
        references: `{question_id: [gold_text, ...]}`; an empty list marks
            an unanswerable question.

    Returns:
        A dict with `exact_match` and `f1` (percentages over all questions),
        `count`, and the same three for the answerable (`has_answer_*`) and
        unanswerable (`no_answer_*`) questions where there are any.

    Raises:
        ValueError: when `references` is empty or a question in it has no
            prediction (the official scripts score it 0; a missing
            prediction is a bug in the caller here).

    Example:

    >>> scores = squad_scores({"q1": "Bethlehem", "q2": ""},
    ...                       {"q1": ["Bethlehem of Judaea"], "q2": []})
    >>> {name: round(value, 2) for name, value in scores.items()}
    ... # doctest: +NORMALIZE_WHITESPACE
    {'exact_match': 50.0, 'f1': 75.0, 'count': 2,
     'has_answer_exact_match': 0.0, 'has_answer_f1': 50.0, 'has_answer_count': 1,
     'no_answer_exact_match': 100.0, 'no_answer_f1': 100.0, 'no_answer_count': 1}
    """
    if not references:
        raise ValueError("Received no questions to score: `references` is empty.")
    missing = [qid for qid in references if qid not in predictions]
    if missing:
        shown = ", ".join(map(repr, missing[:5])) + (", ..." if len(missing) > 5 else "")
        raise ValueError(
            f"Every question in `references` needs a prediction. Received "
            f"none for {len(missing)} of {len(references)} questions: {shown}"
        )
    groups = {"": [], "has_answer_": [], "no_answer_": []}
    for qid, gold_answers in references.items():
        prediction = predictions[qid]
        score = (
            squad_exact_match(prediction, gold_answers),
            squad_f1(prediction, gold_answers),
        )
        groups[""].append(score)
        answerable = any(normalize_answer(gold) for gold in gold_answers)
        groups["has_answer_" if answerable else "no_answer_"].append(score)
    result = {}
    for prefix, scores in groups.items():
        if scores:
            result[f"{prefix}exact_match"] = 100.0 * sum(s[0] for s in scores) / len(scores)
            result[f"{prefix}f1"] = 100.0 * sum(s[1] for s in scores) / len(scores)
            result[f"{prefix}count"] = len(scores)
    return result
