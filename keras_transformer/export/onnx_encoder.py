"""A BERT task model's `forward.onnx` over onnxruntime: NumPy in and out."""

import json

import numpy as np

from keras_transformer.export import encoder_signatures
from keras_transformer.export.onnx_export import METADATA_KEY
from keras_transformer.export.onnx_sessions import cpu_session


class OnnxEncoder:
    """Runs the graph of `export_encoder_onnx` with onnxruntime.

    Calling it with the model's input dict returns the outputs of
    `serving_default` ({name: float32 array}). The session is thread-safe:
    one instance may serve concurrent requests.

    Args:
        path: The `forward.onnx` file.
        intra_op_num_threads: Threads of the session (0: onnxruntime's
            default, one per physical core).

    Attributes:
        task, vocabulary_size, max_sequence_length, num_segments: From the
            graph's metadata.
        output_names: The graph's outputs, in `encoder_signatures` order.
    """

    def __init__(self, path, intra_op_num_threads=0):
        # Idle threads that spin would take the cores from concurrent
        # requests and the server's Python pre- and post-processing.
        self.session = cpu_session(path, intra_op_num_threads)
        metadata = json.loads(self.session.get_modelmeta().custom_metadata_map[METADATA_KEY])
        self.task = metadata["task"]
        self.vocabulary_size = metadata["vocabulary_size"]
        self.max_sequence_length = metadata["max_sequence_length"]
        self.num_segments = metadata["num_segments"]
        self.output_names = encoder_signatures.output_names(self.task)

    def __call__(self, inputs):
        """{"token_ids", "segment_ids", "padding_mask"} (B, T) -> {name: array}."""
        feed = {
            name: np.asarray(inputs[name], np.int32)
            for name in encoder_signatures.INPUT_NAMES
        }
        values = self.session.run(list(self.output_names), feed)
        return dict(zip(self.output_names, values))
