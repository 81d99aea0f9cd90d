"""Entity-level precision, recall and F1 for IOB-tagged sequences.

The scores of CoNLL's `conlleval` script as `seqeval` computes them by
default (no `mode="strict"`): an entity counts as found only when its type,
first word and last word all match. Chunks are read the lenient conlleval
way, so tags that a strict IOB2 reader would reject still make entities:

* `I-X` after `O` (or after an entity of another type) starts an entity;
* a change of type ends one entity and starts the next, whatever the
  prefixes (`B-PER I-LOC` is two entities);
* `B-X` always starts a new entity, so `B-X B-X` is two.

`E-` and `S-` prefixes (IOBES) are read the same way conlleval reads them.
Pure Python: use it on word-level tags, after model outputs are mapped back
from word pieces to words.
"""

import dataclasses
import re

_TAG_RE = re.compile(r"^([BIES])-(.+)$")


@dataclasses.dataclass(frozen=True)
class EntityScores:
    """Entity-level precision, recall and F1, overall and per entity type.

    Attributes:
        precision: correct / predicted (0 when nothing was predicted).
        recall: correct / true (0 when there is nothing to find).
        f1: Harmonic mean of the two (0 when both are 0).
        num_true: Entities in the reference (seqeval's "support").
        num_predicted: Entities in the prediction.
        num_correct: Predicted entities that match a reference entity.
        by_type: `{entity type: EntityScores}` for every type that occurs
            in the reference or in the prediction, sorted by name (empty in
            the per-type scores themselves). The overall scores are
            micro-averaged over types.
    """

    precision: float
    recall: float
    f1: float
    num_true: int
    num_predicted: int
    num_correct: int
    by_type: dict = dataclasses.field(default_factory=dict)

    def report(self):
        """A small text table: one row per type and a micro-averaged row."""
        rows = [f"{'type':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'true':>8}"]
        for name, scores in [*self.by_type.items(), ("micro avg", self)]:
            rows.append(
                f"{name:<12}{scores.precision:>10.4f}{scores.recall:>10.4f}"
                f"{scores.f1:>10.4f}{scores.num_true:>8d}"
            )
        return "\n".join(rows)


def _split_tag(tag, sentence_index, position):
    if tag == "O":
        return "O", None
    match = _TAG_RE.match(tag) if isinstance(tag, str) else None
    if match is None:
        raise ValueError(
            "Received an invalid tag, expected 'O' or a prefix B-, I-, E- or "
            f"S- followed by an entity type, such as 'B-PER'. Received: "
            f"tag={tag!r} (sentence {sentence_index}, position {position})"
        )
    return match.group(1), match.group(2)


def _ends(previous_prefix, prefix, previous_type, entity_type):
    """Whether an entity ends between the previous word and this one."""
    if previous_prefix in ("E", "S"):
        return True
    if previous_prefix in ("B", "I") and prefix in ("B", "S", "O"):
        return True
    return previous_prefix != "O" and previous_type != entity_type


def _starts(previous_prefix, prefix, previous_type, entity_type):
    """Whether an entity starts at this word."""
    if prefix in ("B", "S"):
        return True
    if previous_prefix in ("E", "S", "O") and prefix in ("E", "I"):
        return True
    return prefix != "O" and previous_type != entity_type


def extract_entities(tags, sentence_index=0):
    """Returns the entities of one tag sequence as `(type, start, end)`.

    `end` is exclusive: the entity covers words `start .. end - 1`.

    Args:
        tags: A sequence of tag strings, e.g. `["B-PER", "I-PER", "O"]`.
        sentence_index: Only used in error messages.

    Example:

    >>> extract_entities(["B-PER", "I-PER", "O", "I-LOC", "B-LOC"])
    [('PER', 0, 2), ('LOC', 3, 4), ('LOC', 4, 5)]
    """
    entities = []
    previous_prefix, previous_type, start = "O", None, 0
    for position, tag in enumerate([*tags, "O"]):
        prefix, entity_type = _split_tag(tag, sentence_index, position)
        if _ends(previous_prefix, prefix, previous_type, entity_type):
            entities.append((previous_type, start, position))
        if _starts(previous_prefix, prefix, previous_type, entity_type):
            start = position
        previous_prefix, previous_type = prefix, entity_type
    return entities


def _scores(num_true, num_predicted, num_correct, by_type=None):
    precision = num_correct / num_predicted if num_predicted else 0.0
    recall = num_correct / num_true if num_true else 0.0
    total = precision + recall
    f1 = 2 * precision * recall / total if total else 0.0
    return EntityScores(
        precision=precision,
        recall=recall,
        f1=f1,
        num_true=num_true,
        num_predicted=num_predicted,
        num_correct=num_correct,
        by_type=by_type or {},
    )


def entity_scores(true_tags, predicted_tags):
    """Entity-level precision, recall and F1 of predicted tag sequences.

    Equal to `seqeval.metrics` `precision_score`, `recall_score` and
    `f1_score` (default mode, `average="micro"`; per type with
    `average=None`), with 0 where a ratio is undefined.

    Args:
        true_tags: A list of sentences, each a list of reference tags.
        predicted_tags: A list of sentences of predicted tags, the same
            lengths as `true_tags`.

    Returns:
        An `EntityScores`: micro-averaged `precision`, `recall`, `f1` and
        counts, and `by_type` with the same per entity type.

    Raises:
        ValueError: when the sentence counts or lengths differ, or for a tag
            that is neither "O" nor prefix-dash-type.

    Example:

    >>> true = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-LOC"]]
    >>> predicted = [["B-PER", "I-PER", "O", "O"], ["O", "B-PER"]]
    >>> scores = entity_scores(true, predicted)
    >>> round(scores.precision, 3), round(scores.recall, 3), round(scores.f1, 3)
    (0.5, 0.333, 0.4)
    >>> scores.by_type["PER"].f1
    0.6666666666666666
    """
    true_tags, predicted_tags = list(true_tags), list(predicted_tags)
    if len(true_tags) != len(predicted_tags):
        raise ValueError(
            "`true_tags` and `predicted_tags` must hold the same number of "
            f"sentences. Received: len(true_tags)={len(true_tags)}, "
            f"len(predicted_tags)={len(predicted_tags)}"
        )
    true_entities, predicted_entities = set(), set()
    for index, (true, predicted) in enumerate(zip(true_tags, predicted_tags)):
        if isinstance(true, str) or isinstance(predicted, str):
            raise ValueError(
                "Received a string where a list of tags was expected: "
                "`true_tags` and `predicted_tags` are lists of sentences, "
                f"each a list of tags. Received: sentence {index} = "
                f"{true!r}, {predicted!r}"
            )
        true, predicted = list(true), list(predicted)
        if len(true) != len(predicted):
            raise ValueError(
                "Each predicted sentence must have as many tags as its "
                f"reference. Received: sentence {index} has "
                f"{len(true)} true and {len(predicted)} predicted tags"
            )
        true_entities.update(
            (index, *entity) for entity in extract_entities(true, index)
        )
        predicted_entities.update(
            (index, *entity) for entity in extract_entities(predicted, index)
        )
    correct = true_entities & predicted_entities

    def count(entities, entity_type):
        return sum(1 for entity in entities if entity[1] == entity_type)

    types = sorted({entity[1] for entity in true_entities | predicted_entities})
    by_type = {
        entity_type: _scores(
            count(true_entities, entity_type),
            count(predicted_entities, entity_type),
            count(correct, entity_type),
        )
        for entity_type in types
    }
    return _scores(
        len(true_entities),
        len(predicted_entities),
        len(correct),
        by_type=by_type,
    )
