"""SQuAD-format JSON: the TFDS features and a validating reader.

Shared by the TFDS builders of the built-in question answering set
(`public_domain_qa`) and of your own SQuAD-format files (`squad_json`). The
features are those of TFDS's `squad/v2.0`, so every source yields the same
examples:

    {"id", "title", "context", "question",
     "answers": {"text": [...], "answer_start": [...]},
     "plausible_answers": {"text": [...], "answer_start": [...]},
     "is_impossible"}

The reader accepts SQuAD v1.1 files (no `is_impossible`: a question is
unanswerable when it has no answers) and v2.0 files, and fails on the first
malformed entry with a `ValueError` that names the file, the question and
what was expected, instead of producing wrong labels later.
"""

import json
import numbers

import numpy as np
import tensorflow_datasets as tfds


def squad_features():
    """The `tfds.features.FeaturesDict` of TFDS's `squad/v2.0`."""

    def answers():
        return tfds.features.Sequence(
            {"text": tfds.features.Text(), "answer_start": np.int32}
        )

    return tfds.features.FeaturesDict(
        {
            "id": np.str_,
            "title": tfds.features.Text(),
            "context": tfds.features.Text(),
            "question": tfds.features.Text(),
            "answers": answers(),
            "plausible_answers": answers(),
            "is_impossible": np.bool_,
        }
    )


def _fail(path, where, expected, received):
    raise ValueError(
        f"SQuAD file {path}, {where}: expected {expected}. Received: {received}"
    )


def _answers(path, where, context, answers, check_alignment):
    if not isinstance(answers, list):
        _fail(path, where, "a list of answers", repr(answers)[:200])
    texts, starts = [], []
    for number, answer in enumerate(answers):
        here = f"{where}, answer {number}"
        if not isinstance(answer, dict):
            _fail(path, here, 'an object {"text", "answer_start"}', repr(answer)[:200])
        text, start = answer.get("text"), answer.get("answer_start")
        if not isinstance(text, str) or not text:
            _fail(path, here, "a non-empty string `text`", repr(text))
        if (
            isinstance(start, bool)
            or not isinstance(start, numbers.Integral)
            or not 0 <= start <= len(context) - len(text)
        ):
            _fail(
                path, here,
                f"an integer `answer_start` in [0, {len(context) - len(text)}]",
                repr(start),
            )
        if check_alignment and context[start : start + len(text)] != text:
            _fail(
                path, here,
                f"context[answer_start:answer_start + len(text)] == text, "
                f"with text={text!r}",
                f"answer_start={start}, where the context has "
                f"{context[start : start + len(text)]!r}",
            )
        texts.append(text)
        starts.append(int(start))
    return {"text": texts, "answer_start": starts}


def read_squad_json(path):
    """Yields `(id, example)` for every question of a SQuAD-format JSON file.

    Args:
        path: A file holding `{"data": [{"title", "paragraphs": [{"context",
            "qas": [{"id", "question", "answers", "is_impossible"?,
            "plausible_answers"?}]}]}]}`.

    Raises:
        ValueError: on malformed JSON or entries, a repeated question id, an
            answer whose text is not at its `answer_start` in the context, or
            `is_impossible` contradicting the answers.
    """
    path = str(path)
    with tfds.core.Path(path).open("r", encoding="utf-8") as file:
        try:
            squad = json.load(file)
        except json.JSONDecodeError as error:
            raise ValueError(f"SQuAD file {path} is not valid JSON: {error}") from None
    if not isinstance(squad, dict) or not isinstance(squad.get("data"), list):
        _fail(path, "top level", 'an object with a list "data"', repr(squad)[:200])
    seen = set()
    for article_number, article in enumerate(squad["data"]):
        where = f"article {article_number}"
        if not isinstance(article, dict) or not isinstance(
            article.get("paragraphs"), list
        ):
            _fail(path, where, 'an object with a list "paragraphs"', repr(article)[:200])
        title = article.get("title", "")
        for paragraph_number, paragraph in enumerate(article["paragraphs"]):
            where = f"article {article_number}, paragraph {paragraph_number}"
            context = paragraph.get("context") if isinstance(paragraph, dict) else None
            if not isinstance(context, str) or not context.strip():
                _fail(path, where, "a non-empty string `context`", repr(context)[:200])
            qas = paragraph.get("qas")
            if not isinstance(qas, list):
                _fail(path, where, 'a list "qas"', repr(qas)[:200])
            for qa in qas:
                qid = qa.get("id") if isinstance(qa, dict) else None
                if not isinstance(qid, str) or not qid:
                    _fail(path, where, "questions with a non-empty string `id`",
                          repr(qa)[:200])
                here = f"question {qid!r}"
                if qid in seen:
                    _fail(path, here, "unique question ids", "a repeated id")
                seen.add(qid)
                question = qa.get("question")
                if not isinstance(question, str) or not question.strip():
                    _fail(path, here, "a non-empty string `question`", repr(question))
                answers = _answers(
                    path, here, context, qa.get("answers", []), check_alignment=True
                )
                # Plausible answers of unanswerable questions are kept but,
                # being unused for training, not checked against the context.
                plausible = _answers(
                    path, here, context, qa.get("plausible_answers", []),
                    check_alignment=False,
                )
                is_impossible = qa.get("is_impossible", not answers["text"])
                if not isinstance(is_impossible, bool):
                    _fail(path, here, "a boolean `is_impossible`", repr(is_impossible))
                if is_impossible == bool(answers["text"]):
                    _fail(
                        path, here,
                        "answers for an answerable question and none for an "
                        "unanswerable one",
                        f"is_impossible={is_impossible} with "
                        f"{len(answers['text'])} answers",
                    )
                yield qid, {
                    "id": qid,
                    "title": title,
                    "context": context,
                    "question": question,
                    "answers": answers,
                    "plausible_answers": plausible,
                    "is_impossible": is_impossible,
                }
