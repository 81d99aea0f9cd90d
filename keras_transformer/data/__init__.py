"""Text data: translation datasets, a subword tokenizer, batches; BERT WordPiece.

Importing this package registers the built-in TFDS dataset `bible_en_es`.

    pairs, info = load_translation("bible_en_es", split="train")
    tokenizer = SubwordTokenizer.train(
        text.decode() for pair in pairs.as_numpy_iterator() for text in pair)
    batches = make_translation_batches(pairs, tokenizer, max_length=128, seed=0)
    model.fit(batches, epochs=...)
"""

from keras_transformer.data.bert_tokenizer import BertEncoding
from keras_transformer.data.bert_tokenizer import BertTokenizer
from keras_transformer.data.bible import BibleEnEs
from keras_transformer.data.bible_genre import BibleGenre
from keras_transformer.data.conll_folder import ConllFolder
from keras_transformer.data.datasets import TranslationInfo
from keras_transformer.data.datasets import load_translation
from keras_transformer.data.ner import NerInfo
from keras_transformer.data.ner import load_ner
from keras_transformer.data.ner_corpus import BibleNer
from keras_transformer.data.ner_pipeline import EncodedSentences
from keras_transformer.data.ner_pipeline import IGNORE_LABEL
from keras_transformer.data.ner_pipeline import encode_ner_sentences
from keras_transformer.data.ner_pipeline import make_ner_batches
from keras_transformer.data.ner_pipeline import word_predictions
from keras_transformer.data.ner_words import split_words
from keras_transformer.data.pipeline import OverlengthCounts
from keras_transformer.data.pipeline import bucket_boundaries
from keras_transformer.data.pipeline import count_overlength
from keras_transformer.data.pipeline import encode_for_translation
from keras_transformer.data.pipeline import make_translation_batches
from keras_transformer.data.pipeline import padding_fraction
from keras_transformer.data.pipeline import tokenize_pairs
from keras_transformer.data.public_domain_qa import PublicDomainQa
from keras_transformer.data.qa_features import make_qa_batches
from keras_transformer.data.qa_features import prepare_qa_features
from keras_transformer.data.squad import load_squad
from keras_transformer.data.squad import qa_examples
from keras_transformer.data.squad_json import SquadJson
from keras_transformer.data.squad_json_config import SquadJsonConfig
from keras_transformer.data.text_classification import TextClassificationInfo
from keras_transformer.data.text_classification import load_text_classification
from keras_transformer.data.tokenizer import SubwordTokenizer
from keras_transformer.data.tokenizer_record import prepare_tokenizer
from keras_transformer.data.translation_splits import TranslationSplits
from keras_transformer.data.translation_splits import load_translation_splits

__all__ = [
    "BertEncoding",
    "BertTokenizer",
    "BibleEnEs",
    "BibleGenre",
    "BibleNer",
    "ConllFolder",
    "EncodedSentences",
    "IGNORE_LABEL",
    "NerInfo",
    "OverlengthCounts",
    "PublicDomainQa",
    "SquadJson",
    "SquadJsonConfig",
    "SubwordTokenizer",
    "TextClassificationInfo",
    "TranslationInfo",
    "TranslationSplits",
    "bucket_boundaries",
    "count_overlength",
    "encode_for_translation",
    "encode_ner_sentences",
    "load_ner",
    "load_squad",
    "load_text_classification",
    "load_translation",
    "load_translation_splits",
    "make_ner_batches",
    "make_qa_batches",
    "make_translation_batches",
    "padding_fraction",
    "prepare_tokenizer",
    "prepare_qa_features",
    "qa_examples",
    "split_words",
    "tokenize_pairs",
    "word_predictions",
]
