"""A BERT task model's `forward.onnx` over onnxruntime: NumPy in and out."""

import json
import pathlib

import numpy as np
import onnxruntime

from keras_transformer.export import encoder_signatures
from keras_transformer.export.onnx_export import METADATA_KEY


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
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = intra_op_num_threads
        # Idle threads that spin would take the cores from concurrent
        # requests and the server's Python pre- and post-processing.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = onnxruntime.InferenceSession(
            str(pathlib.Path(path)), sess_options=options,
            providers=["CPUExecutionProvider"],
        )
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
