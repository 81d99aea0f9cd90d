"""One exported model behind the server: validation, batching, a runtime."""

from keras_transformer.data import SubwordTokenizer
from keras_transformer.export import layout
from keras_transformer.export import signatures
from keras_transformer.serving import request_checks
from keras_transformer.serving.batcher import MicroBatcher
from keras_transformer.serving.errors import RequestError
from keras_transformer.serving.onnx_runtime import OnnxRuntime
from keras_transformer.serving.savedmodel_runtime import SavedModelRuntime
from keras_transformer.serving.served_model_base import RUNTIMES
from keras_transformer.serving.served_model_base import ServedModelBase

__all__ = ["RUNTIMES", "ServedModel"]

# Signatures whose requests are micro-batched: decoding, where a batch costs
# about as much per step as a single row. (The logits of different
# requests differ in both lengths, so they run as sent.)
_BATCHED = (
    signatures.TRANSLATE, signatures.TRANSLATE_GREEDY,
    signatures.GENERATE, signatures.GENERATE_GREEDY,
)


class ServedModel(ServedModelBase):
    """An export, loaded in one runtime, answering predict requests.

    Every request is checked before it reaches the runtime: signature
    name, input structure, batch size, text length in characters and in
    subword ids (with the end id), id ranges and sequence lengths. What
    fails gets a `RequestError` (a 4xx answer) naming the limit.

    Args:
        model_path: A model base path (`EXPORT_DIR/NAME`) or a version folder.
        runtime: "savedmodel" (TensorFlow) or "onnx" (onnxruntime).
        name: The model name in URLs; defaults to the exported name.
        version: The version to serve; `None`: the highest.
        limits: `ServingLimits`.
        batching: Micro-batch concurrent decoding requests.
        batch_wait_s: How long a batch waits for more requests.
        intra_op_num_threads: onnxruntime threads per session (0: default).
    """

    def __init__(
        self,
        model_path,
        runtime="savedmodel",
        name=None,
        version=None,
        limits=None,
        batching=True,
        batch_wait_s=0.0,
        intra_op_num_threads=0,
    ):
        super().__init__(
            model_path, runtime, name, version, limits, kind=layout.KIND_TRANSLATION,
            expected_export="a translation export (a BERT task export is served "
            "by ServedEncoderModel; `load_served_model` picks the class)",
        )
        self.tokenizer = SubwordTokenizer.load(layout.tokenizer_dir(self.path))
        config = self.manifest["model"]["config"]
        self.max_sequence_length = config["max_sequence_length"]
        self.vocabulary_sizes = {
            "encoder_token_ids": config["encoder_vocabulary_size"],
            "decoder_token_ids": config["decoder_vocabulary_size"]
            or config["encoder_vocabulary_size"],
        }
        self.max_text_tokens = self.limits.text_token_limit(self.max_sequence_length)
        decoding = self.manifest["decoding"]
        self.text_signatures = self.manifest["text_signatures"]
        self.specs = signatures.signature_specs(
            self.vocabulary_sizes["decoder_token_ids"], decoding["max_output_length"],
            self.text_signatures,
        )
        if runtime == "savedmodel":
            self.runtime = SavedModelRuntime(self.path)
        else:
            self.runtime = OnnxRuntime(
                self.path, self.manifest, self.tokenizer,
                intra_op_num_threads=intra_op_num_threads,
            )
        if batching:
            for signature_name in (s for s in _BATCHED if s in self.specs):
                self._batchers[signature_name] = MicroBatcher(
                    lambda arrays, s=signature_name: self.runtime.run(s, arrays),
                    self.limits.max_batch_size,
                    max_wait_s=batch_wait_s,
                    pad_id=decoding["pad_id"],
                    name=f"batcher-{signature_name}",
                )

    # === Requests ===

    def predict(self, request):
        """Answers a `rest_api.PredictRequest` with {output name: array}."""
        signature_name, arrays = self.request_arrays(request)
        spec = self.specs[signature_name]
        for name, array in arrays.items():
            if spec["inputs"][name].dtype == "string":
                self._check_texts(name, array)
            else:
                self._check_ids(name, array)
        target = signatures.resolve(signature_name, self.text_signatures)
        if target in self._batchers:
            return self._batchers[target].submit(arrays)
        return self.runtime.run(signature_name, arrays)

    # === Checks ===

    def _check_texts(self, name, texts):
        request_checks.check_texts(
            name, texts, self.limits.max_text_chars, purpose="translate"
        )
        for index, ids in enumerate(self.tokenizer.encode(list(texts))):
            # The encoder reads the text's ids followed by the end id.
            if len(ids) + 1 > self.max_text_tokens:
                raise RequestError(
                    f"{name}[{index}] has {len(ids) + 1} subword ids with the end "
                    f"id, more than the limit of {self.max_text_tokens} (the "
                    f"model's max_sequence_length={self.max_sequence_length}"
                    + (f", max_text_tokens={self.limits.max_text_tokens}"
                       if self.limits.max_text_tokens else "")
                    + "). Split it."
                )

    def _check_ids(self, name, ids):
        request_checks.check_sequence_length(
            f"{name} has", ids.shape[1], self.max_sequence_length
        )
        request_checks.check_range(
            name, ids, self.vocabulary_sizes[name], what="a token id", plural="ids"
        )
