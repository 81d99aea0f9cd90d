"""Serving a BERT task export with onnxruntime."""

from keras_transformer.export import encoder_signatures
from keras_transformer.export import layout
from keras_transformer.export.onnx_encoder import OnnxEncoder


class OnnxEncoderRuntime:
    """Answers `serving_default` with the export's `forward.onnx`.

    Inputs and outputs are those of the SavedModel's `serving_default`
    (see `keras_transformer.export.encoder_signatures`), so clients cannot
    tell the runtimes apart. The onnxruntime session is thread-safe.

    Args:
        path: A version folder whose export included "onnx".
        intra_op_num_threads: Threads of the session (0: default).
    """

    kind = "onnx"

    def __init__(self, path, intra_op_num_threads=0):
        self.path = str(path)
        self.model = OnnxEncoder(
            layout.onnx_path(path, "forward"), intra_op_num_threads=intra_op_num_threads
        )

    @property
    def signature_names(self):
        return [encoder_signatures.SERVING_DEFAULT]

    def run(self, signature_name, arrays):
        """Runs `serving_default` on NumPy inputs; returns NumPy outputs."""
        if signature_name != encoder_signatures.SERVING_DEFAULT:
            raise KeyError(signature_name)
        return self.model(arrays)
