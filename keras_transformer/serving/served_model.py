"""One exported model behind the server: validation, batching, a runtime."""

import numpy as np

from keras_transformer.data import SubwordTokenizer
from keras_transformer.export import layout
from keras_transformer.export import signatures
from keras_transformer.layers import checks
from keras_transformer.serving import rest_api
from keras_transformer.serving.batcher import MicroBatcher
from keras_transformer.serving.errors import RequestError
from keras_transformer.serving.limits import ServingLimits
from keras_transformer.serving.onnx_runtime import OnnxRuntime
from keras_transformer.serving.savedmodel_runtime import SavedModelRuntime

RUNTIMES = ("savedmodel", "onnx")
# Signatures whose requests are micro-batched: decoding, where a batch costs
# about as much per step as a single row. (The logits of different
# requests differ in both lengths, so they run as sent.)
_BATCHED = (
    signatures.TRANSLATE, signatures.TRANSLATE_GREEDY,
    signatures.GENERATE, signatures.GENERATE_GREEDY,
)


class ServedModel:
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
        checks.one_of("runtime", runtime, RUNTIMES)
        self.limits = limits or ServingLimits()
        self.version, self.path = layout.resolve_version(model_path, version)
        self.manifest = layout.read_manifest(self.path)
        if runtime not in self.manifest["formats"]:
            raise ValueError(
                f"Received an invalid value for argument `runtime`: the export "
                f"at {self.path} has formats {self.manifest['formats']}, not "
                f"{runtime!r}. Received: runtime={runtime!r}"
            )
        self.name = name or self.manifest["name"]
        self.tokenizer = SubwordTokenizer.load(layout.tokenizer_dir(self.path))
        config = self.manifest["model"]["config"]
        self.max_sequence_length = config["max_sequence_length"]
        self.vocabulary_sizes = {
            "encoder_token_ids": config["encoder_vocabulary_size"],
            "decoder_token_ids": config["decoder_vocabulary_size"]
            or config["encoder_vocabulary_size"],
        }
        self.max_text_tokens = min(
            self.limits.max_text_tokens or self.max_sequence_length,
            self.max_sequence_length,
        )
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
        self._batchers = {}
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
        signature_name = request.signature_name
        if signature_name not in self.specs:
            raise RequestError(
                f"Serving signature name: {signature_name!r} not found in "
                f"signature def. Signatures: {sorted(self.specs)}"
            )
        spec = self.specs[signature_name]
        arrays = rest_api.to_arrays(request, spec, self.limits.max_batch_size)
        for name, array in arrays.items():
            if spec["inputs"][name].dtype == "string":
                self._check_texts(name, array)
            else:
                self._check_ids(name, array)
        target = signatures.resolve(signature_name, self.text_signatures)
        if target in self._batchers:
            return self._batchers[target].submit(arrays)
        return self.runtime.run(signature_name, arrays)

    def status(self):
        return rest_api.status_response(self.version)

    def metadata(self):
        signature_defs = {
            name: rest_api.signature_def(name, self.specs[name])
            for name in sorted(self.specs)
        }
        return rest_api.metadata_response(self.name, self.version, signature_defs)

    def close(self):
        for batcher in self._batchers.values():
            batcher.close()

    @property
    def batch_stats(self):
        """{signature: (batches run, rows run)}: how much batching happened."""
        return {
            name: (batcher.batches_run, batcher.rows_run)
            for name, batcher in self._batchers.items()
        }

    # === Checks ===

    def _check_texts(self, name, texts):
        for index, text in enumerate(texts):
            if not text.strip():
                raise RequestError(
                    f"{name}[{index}] is empty or blank: there is nothing to translate."
                )
            if len(text) > self.limits.max_text_chars:
                raise RequestError(
                    f"{name}[{index}] has {len(text)} characters, more than this "
                    f"server's max_text_chars={self.limits.max_text_chars}. Split it."
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
        if ids.shape[1] > self.max_sequence_length:
            raise RequestError(
                f"{name} has sequences of {ids.shape[1]} ids, more than the "
                f"model's max_sequence_length={self.max_sequence_length}."
            )
        vocabulary_size = self.vocabulary_sizes[name]
        bad = (ids < 0) | (ids >= vocabulary_size)
        if np.any(bad):
            row, column = map(int, np.argwhere(bad)[0])
            raise RequestError(
                f"{name}[{row}][{column}] = {int(ids[row, column])} is not a token "
                f"id: ids are in [0, {vocabulary_size})."
            )
