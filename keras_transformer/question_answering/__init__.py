"""Extractive question answering: text in, answer spans out.

    answerer = QuestionAnswerer(model, tokenizer)   # a trained BertSpanExtractor
    answerer.answer("Who built the ark?", "Noah built the ark of gopher wood.")

`decode_answers` is the decoding step on its own: n-best spans over every
window of an example, mapped back to the context's characters.
"""

from keras_transformer.question_answering.question_answerer import QuestionAnswerer
from keras_transformer.question_answering.span_decoding import decode_answers

__all__ = ["QuestionAnswerer", "decode_answers"]
