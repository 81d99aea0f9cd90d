"""Text in, text out: a trained model, its tokenizer and a compiled search."""

import numpy as np
from absl import logging

from keras_transformer.generation import make_search_fn
from keras_transformer.layers import checks


class Translator:
    """Translates sentences with a `Seq2SeqTransformer` and its tokenizer.

    Sentences are tokenized, sorted by length into batches (little padding),
    decoded with cached greedy or beam search compiled by `tf.function`, and
    detokenized, in the caller's order.

    Args:
        model: A trained `Seq2SeqTransformer`.
        tokenizer: The `SubwordTokenizer` it was trained with.
        beam_width: 1 for greedy search, more for beam search.
        alpha: Beam search length-penalty exponent.
        max_output_length: The most tokens to generate; defaults to the
            model's maximum sequence length minus the start token. A batch
            also stops at `length_ratio` times its longest source plus 10.
        length_ratio: Bounds the output length by the source length (see
            `max_output_length`), so a sentence that never emits the end
            token costs a bounded time.
        batch_size: Sentences per decoding batch.
        overlength: What to do with a sentence longer than the model's
            maximum: "error" (default) raises; "truncate" cuts it and logs a
            warning naming it.
        jit_compile: Compile the search with XLA.
    """

    def __init__(
        self,
        model,
        tokenizer,
        beam_width=4,
        alpha=0.6,
        max_output_length=None,
        batch_size=32,
        overlength="error",
        jit_compile=False,
        length_ratio=2.0,
    ):
        if tokenizer.vocabulary_size > model.decoder_vocabulary_size or (
            tokenizer.vocabulary_size > model.encoder_vocabulary_size
        ):
            raise ValueError(
                "The tokenizer does not match the model: its vocabulary has "
                f"{tokenizer.vocabulary_size} ids, the model's embeddings "
                f"have encoder_vocabulary_size={model.encoder_vocabulary_size}"
                f" and decoder_vocabulary_size={model.decoder_vocabulary_size}."
            )
        self.model = model
        self.tokenizer = tokenizer
        self.beam_width = checks.positive_int("beam_width", beam_width)
        self.batch_size = checks.positive_int("batch_size", batch_size)
        self.overlength = checks.one_of("overlength", overlength, {"error", "truncate"})
        self.max_input_length = model.max_sequence_length
        self.length_ratio = checks.positive_float("length_ratio", length_ratio)
        self.jit_compile = bool(jit_compile)
        self.max_output_length = checks.positive_int(
            "max_output_length", max_output_length or model.max_sequence_length - 1
        )
        self._search = make_search_fn(
            model,
            self.max_output_length,
            tokenizer.start_id,
            tokenizer.end_id,
            beam_width=beam_width,
            alpha=alpha,
            jit_compile=jit_compile,
        )

    def encode(self, texts):
        """Returns the source ids of `texts`, validated, as lists."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise ValueError(
                "Received an invalid value for argument `texts`, expected a "
                f"list of strings. Received: texts={texts!r:.200}"
            )
        for index, text in enumerate(texts):
            if not text.strip():
                raise ValueError(
                    "Received an empty sentence: there is nothing to "
                    f"translate. Received: texts[{index}]={text!r}"
                )
        encoded = self.tokenizer.encode(texts)
        for index, ids in enumerate(encoded):
            # The encoder sees the sentence followed by the end token.
            if len(ids) + 1 > self.max_input_length:
                if self.overlength == "error":
                    raise ValueError(
                        f"Sentence {index} has {len(ids) + 1} tokens (with the "
                        f"end token), more than the model's maximum of "
                        f"{self.max_input_length}. Split it, or pass "
                        f"overlength='truncate'. Received: texts[{index}]="
                        f"{texts[index][:80]!r}..."
                    )
                logging.warning(
                    "Truncating sentence %d from %d to %d tokens.",
                    index, len(ids) + 1, self.max_input_length,
                )
                encoded[index] = ids[: self.max_input_length - 1]
        return [ids + [self.tokenizer.end_id] for ids in encoded]

    def translate_ids(self, source_ids, progress=None):
        """Decodes lists of source ids; returns lists of output ids.

        `progress`, if given, is called as `progress(done, total)` after
        every batch, with the number of sentences decoded so far.
        """
        order = np.argsort([len(ids) for ids in source_ids], kind="stable")
        outputs = [None] * len(source_ids)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(source_ids[row]) for row in rows)
            batch = np.zeros((len(rows), width), "int32")
            for i, row in enumerate(rows):
                batch[i, : len(source_ids[row])] = source_ids[row]
            if self.jit_compile:
                generated = np.asarray(self._search(batch))
            else:
                limit = int(self.length_ratio * width) + 10
                generated = np.asarray(self._search(batch, limit))
            for i, row in enumerate(rows):
                outputs[row] = generated[i].tolist()
            if progress is not None:
                progress(start + len(rows), len(order))
        return outputs

    def translate(self, texts, progress=None):
        """Returns the translations of `texts` (a list of strings).

        `progress`, if given, is called as `progress(done, total)` after
        every decoded batch (a long evaluation can report how far it is).
        """
        if isinstance(texts, (str, bytes)):
            raise ValueError(
                "Received an invalid value for argument `texts`, expected a "
                f"list of strings. Received: texts={texts!r:.200}"
            )
        texts = list(texts)
        if not texts:
            return []
        return self.tokenizer.decode(
            self.translate_ids(self.encode(texts), progress=progress))
