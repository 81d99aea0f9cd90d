"""Corpus BLEU, computed by sacrebleu so scores are comparable."""

import sacrebleu


def corpus_bleu(hypotheses, references):
    """Returns sacrebleu's corpus BLEU of `hypotheses` against `references`.

    Detokenized text in, sacrebleu's default "13a" tokenization, one
    reference per sentence.

    Args:
        hypotheses: A list of system outputs.
        references: A list of references, aligned with `hypotheses`.

    Returns:
        A `sacrebleu.metrics.BLEUScore`; `.score` is BLEU in [0, 100] and
        `str(...)` reports n-gram precisions and the brevity penalty.

    Example:

    >>> round(corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"]).score, 1)
    100.0
    """
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(
            "`hypotheses` and `references` must have the same length. "
            f"Received: len(hypotheses)={len(hypotheses)}, "
            f"len(references)={len(references)}"
        )
    if not hypotheses:
        raise ValueError("Received no sentences to score: `hypotheses` is empty.")
    return sacrebleu.corpus_bleu(hypotheses, [references])
