"""The forward pass that both graphs of a BERT task export trace: the
SavedModel's `serving_default` and `forward.onnx`."""

import tensorflow as tf

from keras_transformer.export import encoder_signatures


def input_signature():
    """`tf.TensorSpec`s of the inputs: `encoder_signatures.INPUT_NAMES`,
    each (B, T) int32 with B and T dynamic."""
    return [
        tf.TensorSpec([None, None], tf.int32, name=name)
        for name in encoder_signatures.INPUT_NAMES
    ]


def float32_outputs(model, task, token_ids, segment_ids, padding_mask):
    """The model's outputs on (B, T) inputs, as {output name: float32 tensor}
    under the names of `encoder_signatures.output_names(task)`."""
    outputs = model(
        {
            "token_ids": token_ids,
            "segment_ids": segment_ids,
            "padding_mask": padding_mask,
        },
        training=False,
    )
    return {
        name: tf.cast(value, tf.float32)
        for name, value in encoder_signatures.name_outputs(task, outputs).items()
    }
