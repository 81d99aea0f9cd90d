"""Evaluation: corpus BLEU with sacrebleu."""

from keras_transformer.evaluation.bleu import corpus_bleu

__all__ = ["corpus_bleu"]
