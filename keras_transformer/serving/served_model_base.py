"""What every served export shares: its version, manifest and limits, and
the request plumbing around its table of signatures."""

from keras_transformer.export import layout
from keras_transformer.layers import checks
from keras_transformer.serving import rest_api
from keras_transformer.serving.errors import RequestError
from keras_transformer.serving.limits import ServingLimits

RUNTIMES = ("savedmodel", "onnx")


class ServedModelBase:
    """An export of one kind, opened for serving in one runtime.

    Resolves the version folder, reads its manifest and checks that the
    export is of `kind` and was exported in `runtime`. A subclass (one per
    kind of export: `ServedModel`, `ServedEncoderModel`) then sets `specs`,
    {signature name: spec} as in `rest_api`, and `runtime`, and may add
    micro-batchers to `_batchers`; `status`, `metadata`, `close` and
    `batch_stats` follow from those.

    Args:
        model_path, runtime, name, version, limits: As for `ServedModel`.
        kind: The manifest kind served (`layout.KIND_TRANSLATION`, ...).
        expected_export: What `model_path` must be, for the error raised
            on an export of another kind.
    """

    def __init__(self, model_path, runtime, name, version, limits, kind,
                 expected_export):
        checks.one_of("runtime", runtime, RUNTIMES)
        self.limits = limits or ServingLimits()
        self.version, self.path = layout.resolve_version(model_path, version)
        self.manifest = layout.read_manifest(self.path)
        if layout.manifest_kind(self.manifest) != kind:
            raise checks.invalid_argument("model_path", expected_export, str(model_path))
        if runtime not in self.manifest["formats"]:
            raise ValueError(
                f"Received an invalid value for argument `runtime`: the export "
                f"at {self.path} has formats {self.manifest['formats']}, not "
                f"{runtime!r}. Received: runtime={runtime!r}"
            )
        self.name = name or self.manifest["name"]
        self._batchers = {}

    def request_arrays(self, request):
        """A `rest_api.PredictRequest` checked against its signature's spec
        (name, input structure, batch size): `(signature name, {input name:
        array})`."""
        signature_name = request.signature_name
        if signature_name not in self.specs:
            raise RequestError(
                f"Serving signature name: {signature_name!r} not found in "
                f"signature def. Signatures: {sorted(self.specs)}"
            )
        arrays = rest_api.to_arrays(
            request, self.specs[signature_name], self.limits.max_batch_size
        )
        return signature_name, arrays

    def status(self):
        return rest_api.status_response(self.version)

    def metadata(self):
        signature_defs = {
            name: rest_api.signature_def(name, self.specs[name])
            for name in sorted(self.specs)
        }
        return rest_api.metadata_response(self.name, self.version, signature_defs)

    def close(self):
        """Stops the micro-batchers' threads (none without batching)."""
        for batcher in self._batchers.values():
            batcher.close()

    @property
    def batch_stats(self):
        """{signature: (batches run, rows run)}: how much batching happened
        (empty without batching)."""
        return {
            name: (batcher.batches_run, batcher.rows_run)
            for name, batcher in self._batchers.items()
        }
