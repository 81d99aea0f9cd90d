"""ONNX export of a BERT task model: one graph, the forward pass.

`forward.onnx`: `token_ids`, `segment_ids`, `padding_mask` (batch,
sequence_length) int32 -> the model's outputs, float32, named as in
`keras_transformer.export.encoder_signatures` (`logits` (batch,
sequence_length, L) or (batch, C); `start_logits` and `end_logits`
(batch, sequence_length)). Converted by tf2onnx from a `tf.function` over
the model's call, with dynamic axes. The model's metadata (under
`onnx_export.METADATA_KEY`) records the task and the encoder's sizes.
"""

import pathlib

import tensorflow as tf

from keras_transformer.export import encoder_forward
from keras_transformer.export import encoder_signatures
from keras_transformer.export.onnx_export import DEFAULT_OPSET
from keras_transformer.export.onnx_export import check_opset
from keras_transformer.export.onnx_export import needs_external_data
from keras_transformer.export.onnx_export import write_onnx_graph

PART = "forward"


def export_encoder_onnx(model, task, directory, opset=DEFAULT_OPSET, large_model=None):
    """Writes `forward.onnx` of a float32 BERT task model.

    Args:
        model: A float32 BERT task model (see `as_float32`), whose `encoder`
            has `vocabulary_size`, `max_sequence_length` and `num_segments`.
        task: One of `encoder_signatures.TASKS`.
        directory: Folder to write into (created if missing).
        opset: ONNX opset, 17 or 18.
        large_model: Store weights as external data (`forward.onnx.data`);
            `None` decides by size.

    Returns:
        {"forward": path of the .onnx file}.
    """
    check_opset(opset)
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if large_model is None:
        large_model = needs_external_data(model)
    signature = encoder_forward.input_signature()

    @tf.function
    def forward(token_ids, segment_ids, padding_mask):
        return encoder_forward.float32_outputs(
            model, task, token_ids, segment_ids, padding_mask
        )

    axes = {name: ["batch", "sequence_length"] for name in encoder_signatures.INPUT_NAMES}
    for name in encoder_signatures.output_names(task):
        axes[name] = ["batch"] if task == encoder_signatures.CLASSIFICATION else [
            "batch", "sequence_length",
        ]
    encoder = model.encoder
    metadata = {
        "part": PART,
        "kind": "encoder",
        "task": task,
        "vocabulary_size": encoder.vocabulary_size,
        "max_sequence_length": encoder.max_sequence_length,
        "num_segments": getattr(encoder, "num_segments", 2),
        "outputs": list(encoder_signatures.output_names(task)),
    }
    path = write_onnx_graph(
        forward, signature, axes, metadata, directory / f"{PART}.onnx", opset,
        large_model,
    )
    return {PART: path}
