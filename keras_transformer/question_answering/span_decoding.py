"""From start / end logits to answer texts: n-best span decoding.

The decoding of BERT's SQuAD code, over every window of an example:

1. In each window, the `n_best_size` highest start logits and end logits
   among the context tokens give candidate spans `i..j` with `i <= j` and
   at most `max_answer_length` tokens; a span scores
   `start_logits[i] + end_logits[j]`.
2. Candidates of all windows are mapped to character spans of the context
   (through the windows' offsets); a span found in several windows keeps
   its best score. The best `n_best_size` are kept, best first.
3. The null score of the example is the lowest [CLS] score
   `start_logits[0] + end_logits[0]` over its windows. With a
   `null_score_threshold` (SQuAD v2.0) the prediction is "" (no answer)
   when `null_score - best_span_score > null_score_threshold`; without one
   (SQuAD v1.1) the best span always wins.
"""

import numpy as np

from keras_transformer.layers import checks


def decode_answers(
    examples,
    features,
    start_logits,
    end_logits,
    n_best_size=20,
    max_answer_length=30,
    null_score_threshold=None,
):
    """Decodes the best answer span of every example.

    Args:
        examples: The examples given to `prepare_qa_features`, in the same
            order (dicts with a "context" string and an optional "id").
        features: What `prepare_qa_features` returned for them (uses
            "example_index" and "offsets").
        start_logits: (W, T) start logits of the W windows, T at most the
            features' length (padded positions beyond T are ignored).
        end_logits: (W, T) end logits.
        n_best_size: Candidate starts and ends per window, and spans kept.
        max_answer_length: The longest answer, in tokens.
        null_score_threshold: `None` to always answer (SQuAD v1.1); a
            number to predict "no answer" when the null score exceeds the
            best span's score by more than it (SQuAD v2.0; 0.0 is BERT's
            default, higher answers less often).

    Returns:
        A list with, for each example, a dict: "id" (when the example has
        one), "text" (the answer, "" for no answer), "start" / "end" (its
        character span in the context, `None` for no answer), "score",
        "null_score", and "n_best", the best spans as dicts with "text",
        "start", "end", "score", best first.

    Example:

    >>> import numpy as np
    >>> context = "Noah built the ark."
    >>> features = {"example_index": np.array([0]),
    ...             "offsets": np.array([[[-1, -1], [-1, -1], [-1, -1],
    ...                                   [0, 4], [5, 10], [11, 14], [15, 18], [18, 19],
    ...                                   [-1, -1]]])}
    >>> start = np.array([[0., 0, 0, 5, 0, 1, 0, 0, 0]])
    >>> end = np.array([[0., 0, 0, 4, 0, 0, 3, 0, 0]])
    >>> prediction = decode_answers([{"context": context}], features, start, end)[0]
    >>> prediction["text"], prediction["start"], prediction["end"], prediction["score"]
    ('Noah', 0, 4, 9.0)
    >>> [span["text"] for span in prediction["n_best"][:3]]
    ['Noah', 'Noah built the ark', 'Noah built']
    """
    n_best_size = checks.positive_int("n_best_size", n_best_size)
    max_answer_length = checks.positive_int("max_answer_length", max_answer_length)
    if null_score_threshold is not None and (
        isinstance(null_score_threshold, bool)
        or not isinstance(null_score_threshold, (int, float, np.number))
    ):
        raise checks.invalid_argument(
            "null_score_threshold", "None or a number", null_score_threshold
        )
    examples = list(examples)
    start_logits = np.asarray(start_logits, "float32")
    end_logits = np.asarray(end_logits, "float32")
    example_index = np.asarray(features["example_index"])
    offsets = np.asarray(features["offsets"])
    num_windows = len(example_index)
    for name, logits in (("start_logits", start_logits), ("end_logits", end_logits)):
        if logits.ndim != 2 or logits.shape[0] != num_windows or (
            logits.shape[1] > offsets.shape[1]
        ):
            raise ValueError(
                f"Received an invalid shape for argument `{name}`, expected "
                f"(W, T) with W = {num_windows} windows and T <= "
                f"{offsets.shape[1]}. Received: {name}.shape={logits.shape}"
            )
    if num_windows and (example_index.min() < 0 or example_index.max() >= len(examples)):
        raise ValueError(
            f"`features` come from more examples than the {len(examples)} "
            f"given: their example_index runs up to {example_index.max()}."
        )

    windows_of = [[] for _ in examples]
    for w, index in enumerate(example_index):
        windows_of[index].append(w)
    predictions = []
    for index, example in enumerate(examples):
        predictions.append(
            _decode_example(
                example,
                windows_of[index],
                offsets,
                start_logits,
                end_logits,
                n_best_size,
                max_answer_length,
                null_score_threshold,
            )
        )
    return predictions


def _decode_example(
    example, windows, offsets, start_logits, end_logits, n_best_size,
    max_answer_length, null_score_threshold,
):
    context = example["context"]
    best = {}  # (start_char, end_char) -> score
    null_score = None
    for w in windows:
        length = start_logits.shape[1]
        starts, ends = start_logits[w], end_logits[w]
        window_offsets = offsets[w, :length]
        is_context = window_offsets[:, 0] >= 0
        window_null = float(starts[0] + ends[0])
        null_score = window_null if null_score is None else min(null_score, window_null)
        context_positions = np.flatnonzero(is_context)
        if not len(context_positions):
            continue
        # Highest first; a stable sort keeps ties in position order.
        top_starts = context_positions[
            np.argsort(-starts[context_positions], kind="stable")[:n_best_size]
        ]
        top_ends = context_positions[
            np.argsort(-ends[context_positions], kind="stable")[:n_best_size]
        ]
        for i in top_starts:
            for j in top_ends:
                if j < i or j - i + 1 > max_answer_length:
                    continue
                span = (int(window_offsets[i, 0]), int(window_offsets[j, 1]))
                score = float(starts[i] + ends[j])
                if score > best.get(span, -np.inf):
                    best[span] = score
    ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:n_best_size]
    n_best = [
        {"text": context[s:e], "start": s, "end": e, "score": score}
        for (s, e), score in ranked
    ]
    prediction = {"id": example["id"]} if "id" in example else {}
    answer_null = not n_best or (
        null_score_threshold is not None
        and null_score - n_best[0]["score"] > null_score_threshold
    )
    if answer_null:
        prediction.update(text="", start=None, end=None, score=null_score)
    else:
        top = n_best[0]
        prediction.update(
            text=top["text"], start=top["start"], end=top["end"], score=top["score"]
        )
    prediction.update(null_score=null_score, n_best=n_best)
    return prediction
