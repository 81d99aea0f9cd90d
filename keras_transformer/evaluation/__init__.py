"""Evaluation: corpus BLEU with sacrebleu."""

from keras_transformer.evaluation.bleu import corpus_bleu
from keras_transformer.evaluation.entity_f1 import EntityScores
from keras_transformer.evaluation.entity_f1 import entity_scores
from keras_transformer.evaluation.entity_f1 import extract_entities
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
    "squad_exact_match",
    "squad_f1",
    "squad_scores",
]
