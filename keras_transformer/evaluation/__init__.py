"""Evaluation: corpus BLEU with sacrebleu, repetition rate, F1 scores."""

from keras_transformer.evaluation.bleu import corpus_bleu
from keras_transformer.evaluation.entity_f1 import EntityScores
from keras_transformer.evaluation.entity_f1 import entity_scores
from keras_transformer.evaluation.entity_f1 import extract_entities
from keras_transformer.evaluation.repetition import repeats_ngram
from keras_transformer.evaluation.repetition import repetition_rate
from keras_transformer.evaluation.squad_metrics import normalize_answer
from keras_transformer.evaluation.squad_metrics import squad_exact_match
from keras_transformer.evaluation.squad_metrics import squad_f1
from keras_transformer.evaluation.squad_metrics import squad_scores

__all__ = [
    "EntityScores",
    "corpus_bleu",
    "entity_scores",
    "extract_entities",
    "normalize_answer",
    "repeats_ngram",
    "repetition_rate",
    "squad_exact_match",
    "squad_f1",
    "squad_scores",
]
