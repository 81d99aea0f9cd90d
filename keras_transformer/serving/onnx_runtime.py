"""Serving with onnxruntime: the SavedModel's signatures, rebuilt in Python."""

import numpy as np

from keras_transformer.data import encode_for_translation
from keras_transformer.export import layout
from keras_transformer.export import onnx_search
from keras_transformer.export import signatures
from keras_transformer.export.decoding_config import DecodingConfig
from keras_transformer.export.onnx_seq2seq import OnnxSeq2Seq


class OnnxRuntime:
    """Answers the export's signatures with its ONNX graphs.

    `translate*` tokenizes in Python (the same SentencePiece model as the
    SavedModel's graph), searches with `onnx_search` over `OnnxSeq2Seq` and
    detokenizes; `generate*` searches; `logits` runs `forward.onnx`. Inputs
    and outputs are those of the SavedModel signatures (see
    `keras_transformer.export.signatures`), so clients cannot tell the
    runtimes apart. onnxruntime sessions are thread-safe.

    Args:
        path: A version folder whose export included "onnx".
        manifest: Its manifest (`layout.read_manifest`).
        tokenizer: Its `SubwordTokenizer`.
        intra_op_num_threads: Threads per onnxruntime session (0: default).
    """

    kind = "onnx"

    def __init__(self, path, manifest, tokenizer, intra_op_num_threads=0):
        self.path = str(path)
        self.model = OnnxSeq2Seq(
            layout.onnx_dir(path), intra_op_num_threads=intra_op_num_threads
        )
        self.tokenizer = tokenizer
        self.decoding = DecodingConfig.from_json(manifest["decoding"])
        self.text_signatures = manifest["text_signatures"]

    @property
    def signature_names(self):
        return sorted(signatures.signature_names(self.text_signatures))

    def run(self, signature_name, arrays):
        """Runs a signature on NumPy inputs; returns NumPy outputs."""
        name = signatures.resolve(signature_name, self.text_signatures)
        beam_width = self.decoding.beam_width if signatures.uses_beam_search(name) else 1
        if name in (signatures.TRANSLATE, signatures.TRANSLATE_GREEDY):
            source = encode_for_translation(
                list(arrays["text"]), self.tokenizer, self.model.max_sequence_length
            )
            output_ids = onnx_search.search(self.model, source, self.decoding, beam_width)
            return {"translation": np.array(self.tokenizer.decode(output_ids), dtype=object)}
        if name in (signatures.GENERATE, signatures.GENERATE_GREEDY):
            output_ids = onnx_search.search(
                self.model, arrays["encoder_token_ids"], self.decoding, beam_width
            )
            return {"output_ids": output_ids}
        if name == signatures.LOGITS:
            return {
                "logits": self.model.logits(
                    arrays["encoder_token_ids"], arrays["decoder_token_ids"]
                )
            }
        raise KeyError(signature_name)
