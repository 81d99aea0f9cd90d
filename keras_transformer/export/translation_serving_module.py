"""The `tf.Module` whose functions become the SavedModel's signatures."""

import tensorflow as tf

from keras_transformer.export import signatures
from keras_transformer.generation import beam_search
from keras_transformer.generation import greedy_search
from keras_transformer.layers import checks

_TEXT = tf.TensorSpec([None], tf.string, name="text")
_ENCODER_IDS = tf.TensorSpec([None, None], tf.int32, name="encoder_token_ids")
_DECODER_IDS = tf.TensorSpec([None, None], tf.int32, name="decoder_token_ids")


class TranslationServingModule(tf.Module):
    """A `Seq2SeqTransformer` and its tokenizer, as serving functions.

    Text in, text out: tokenization (`SubwordTokenizer.tf_tokenize`, the end
    id appended as in training), cached greedy or beam search
    (`keras_transformer.generation`) and detokenization all run in the
    graph, and the SentencePiece model is saved with it, so a client only
    sends strings. The functions are those of
    `keras_transformer.export.signatures`.

    Inputs longer than the model's `max_sequence_length` (with the end id)
    and ids outside `[0, V)` fail with `InvalidArgumentError`, never
    silently cut.

    Args:
        model: A float32 `Seq2SeqTransformer`.
        tokenizer: Its `SubwordTokenizer`.
        max_output_length: L, the most ids generated per sentence.
        beam_width: K of `translate` and `generate`.
        alpha: Their length-penalty exponent.
        text_signatures: Include `translate` / `translate_greedy`. Without
            them the SavedModel holds no TensorFlow Text op, so any
            TensorFlow (and TF Serving) binary loads it.
    """

    def __init__(self, model, tokenizer, max_output_length, beam_width=4, alpha=0.6,
                 text_signatures=True):
        super().__init__(name="translation_serving_module")
        self.model = model
        self.text_signatures = bool(text_signatures)
        # Tracked (and saved, SentencePiece ops included) only when used.
        if self.text_signatures:
            self.tokenizer = tokenizer
            # Attributes, not methods: saving traces every tf.function of the
            # module, and these must not exist without the tokenizer.
            self.translate = tf.function(self._translate_beam, input_signature=[_TEXT])
            self.translate_greedy = tf.function(
                self._translate_greedy, input_signature=[_TEXT]
            )
        self.start_id, self.end_id, self.pad_id = (
            tokenizer.start_id, tokenizer.end_id, tokenizer.pad_id
        )
        self.max_output_length = checks.positive_int(
            "max_output_length", max_output_length
        )
        self.beam_width = checks.positive_int("beam_width", beam_width)
        self.alpha = float(alpha)
        self.max_input_length = model.max_sequence_length
        self.vocabulary_sizes = {
            "encoder_token_ids": model.encoder_vocabulary_size,
            "decoder_token_ids": model.decoder_vocabulary_size,
        }

    # === Signatures ===

    def _translate_beam(self, text):
        """(B,) strings -> (B,) strings, beam search."""
        return {"translation": self._translate(text, self.beam_width)}

    def _translate_greedy(self, text):
        """(B,) strings -> (B,) strings, greedy search."""
        return {"translation": self._translate(text, 1)}

    @tf.function(input_signature=[_ENCODER_IDS])
    def generate(self, encoder_token_ids):
        """(B, S) source ids -> (B, L) output ids, beam search."""
        return {"output_ids": self._generate(encoder_token_ids, self.beam_width)}

    @tf.function(input_signature=[_ENCODER_IDS])
    def generate_greedy(self, encoder_token_ids):
        """(B, S) source ids -> (B, L) output ids, greedy search."""
        return {"output_ids": self._generate(encoder_token_ids, 1)}

    @tf.function(input_signature=[_ENCODER_IDS, _DECODER_IDS])
    def logits(self, encoder_token_ids, decoder_token_ids):
        """(B, S) and (B, T) ids -> (B, T, V) float32 next-token logits."""
        encoder_token_ids = self._check_ids("encoder_token_ids", encoder_token_ids)
        decoder_token_ids = self._check_ids("decoder_token_ids", decoder_token_ids)
        logits = self.model(
            {
                "encoder_token_ids": encoder_token_ids,
                "decoder_token_ids": decoder_token_ids,
            },
            training=False,
        )
        return {"logits": tf.cast(logits, tf.float32)}

    def signature_functions(self):
        """{signature name: concrete function}, aliases included."""
        names = signatures.signature_names(self.text_signatures)
        functions = {
            name: getattr(self, name).get_concrete_function()
            for name in names if name != signatures.SERVING_DEFAULT
        }
        functions[signatures.SERVING_DEFAULT] = functions[
            signatures.resolve(signatures.SERVING_DEFAULT, self.text_signatures)
        ]
        # The functions read the tf.Variables inside Keras's variables.
        # Tracking those directly puts them in the SavedModel's TF1 saver,
        # which TF Serving and `saved_model_cli run` restore; without it
        # they find "uninitialized" variables (Keras's ExportArchive does
        # the same).
        captured = {}
        for function in functions.values():
            for variable in function.variables:
                captured[id(variable)] = variable
        self.serving_variables = list(captured.values())
        return functions

    # === Pieces ===

    def _translate(self, text, beam_width):
        ids = self.tokenizer.tf_tokenize(text)  # (B, None) ragged
        end = tf.fill([ids.nrows(), 1], tf.constant(self.end_id, tf.int32))
        # The encoder saw each source followed by the end id in training.
        source = tf.concat([ids, end], axis=1).to_tensor(self.pad_id)
        return self.tokenizer.tf_detokenize(self._generate(source, beam_width))

    def _generate(self, encoder_token_ids, beam_width):
        encoder_token_ids = self._check_ids("encoder_token_ids", encoder_token_ids)
        args = (
            self.model,
            encoder_token_ids,
            self.max_output_length,
            self.start_id,
            self.end_id,
        )
        if beam_width == 1:
            return greedy_search(*args)
        tokens, _ = beam_search(*args, beam_width=beam_width, alpha=self.alpha)
        return tokens

    def _check_ids(self, name, ids):
        """`ids`, readable only once the checks passed (else the model's
        ops could run first and fail with a less helpful message)."""
        vocabulary_size = self.vocabulary_sizes[name]
        assertions = [
            tf.debugging.assert_less_equal(
                tf.shape(ids)[1],
                self.max_input_length,
                message=(
                    f"`{name}` is longer than the model's max_sequence_length="
                    f"{self.max_input_length} positions"
                ),
            ),
            tf.debugging.assert_non_negative(
                ids, message=f"`{name}` holds negative ids"
            ),
            tf.debugging.assert_less(
                ids,
                vocabulary_size,
                message=f"`{name}` holds ids >= the vocabulary size {vocabulary_size}",
            ),
        ]
        # Automatic control dependencies only run the asserts before the
        # function returns; this orders them before every read of `ids`.
        with tf.control_dependencies([a for a in assertions if a is not None]):
            return tf.identity(ids)
