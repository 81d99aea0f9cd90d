"""The `tf.Module` saved as a BERT task model's SavedModel."""

import tensorflow as tf

from keras_transformer.export import encoder_forward
from keras_transformer.export import encoder_signatures
from keras_transformer.layers import checks

_IDS = encoder_forward.input_signature()


class EncoderServingModule(tf.Module):
    """Holds a BERT task model and its `serving_default` signature.

    `serving_default(token_ids, segment_ids, padding_mask)`, each (B, T)
    int32 with B and T dynamic, returns the model's outputs as float32
    under the names of `keras_transformer.export.encoder_signatures`.

    Inputs the model cannot read fail with `InvalidArgumentError` before it
    runs, never silently cut or wrapped: T past `max_sequence_length`,
    token ids outside [0, V), segment ids outside [0, num_segments),
    `padding_mask` values other than 0 and 1, or inputs of different
    shapes.

    Args:
        model: A float32 BERT task model (`BertTokenClassifier`,
            `BertSpanExtractor`, `BertClassifier`).
        task: Its task, one of `encoder_signatures.TASKS`.
        vocabulary_size: V of its encoder.
        num_segments: The number of segment ids of its encoder.
        max_sequence_length: The longest T of its encoder.
    """

    def __init__(self, model, task, vocabulary_size, num_segments, max_sequence_length):
        super().__init__(name="encoder_serving_module")
        self.model = model
        self.task = checks.one_of("task", task, encoder_signatures.TASKS)
        self.vocabulary_size = checks.positive_int("vocabulary_size", vocabulary_size)
        self.num_segments = checks.positive_int("num_segments", num_segments)
        self.max_sequence_length = checks.positive_int(
            "max_sequence_length", max_sequence_length
        )

    @tf.function(input_signature=_IDS)
    def serving_default(self, token_ids, segment_ids, padding_mask):
        """(B, T) ids, segments and mask -> the model's float32 outputs."""
        # The model reads the inputs only once every check passed.
        with tf.control_dependencies(self._checks(token_ids, segment_ids, padding_mask)):
            token_ids = tf.identity(token_ids)
            segment_ids = tf.identity(segment_ids)
            padding_mask = tf.identity(padding_mask)
        return encoder_forward.float32_outputs(
            self.model, self.task, token_ids, segment_ids, padding_mask
        )

    def signature_functions(self):
        """{"serving_default": concrete function}, for `tf.saved_model.save`."""
        function = self.serving_default.get_concrete_function()
        # Tracked directly so that the SavedModel's TF1 saver restores them
        # for TF Serving and `saved_model_cli run` (see
        # `TranslationServingModule.signature_functions`).
        captured = {id(variable): variable for variable in function.variables}
        self.serving_variables = list(captured.values())
        return {encoder_signatures.SERVING_DEFAULT: function}

    def _checks(self, token_ids, segment_ids, padding_mask):
        """The assertions on the inputs (ops that raise InvalidArgumentError)."""
        shape = tf.shape(token_ids)
        assertions = [
            tf.debugging.assert_equal(
                tf.shape(value), shape,
                message=f"`{name}` must have the shape (B, T) of `token_ids`",
            )
            for name, value in (("segment_ids", segment_ids), ("padding_mask", padding_mask))
        ]
        assertions.append(
            tf.debugging.assert_less_equal(
                shape[1],
                self.max_sequence_length,
                message=(
                    "the inputs are longer than the model's max_sequence_length="
                    f"{self.max_sequence_length} positions"
                ),
            )
        )
        for name, value, limit in (
            ("token_ids", token_ids, self.vocabulary_size),
            ("segment_ids", segment_ids, self.num_segments),
            ("padding_mask", padding_mask, 2),
        ):
            assertions.append(tf.debugging.assert_non_negative(
                value, message=f"`{name}` holds negative values"
            ))
            assertions.append(tf.debugging.assert_less(
                value, limit, message=f"`{name}` holds values >= {limit}"
            ))
        # An assertion known to hold when traced is `None`.
        return [assertion for assertion in assertions if assertion is not None]
