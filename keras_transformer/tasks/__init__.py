"""Tasks: a fine-tuned model, its tokenizer and labels as one predictor.

    tagger = EntityTagger.load("artifacts/ner")        # examples.finetune_ner's output
    tagger.tag(["Paul sailed from Troas to Philippi."])  # raw text: character spans
    tagger.tag_words([["@paul", "sailed", "to", "Troas"]])  # pre-split words
"""

from keras_transformer.tasks.entity_tagger import EntityTagger

__all__ = ["EntityTagger"]
