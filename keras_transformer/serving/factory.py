"""The served model for an export, chosen by its manifest's kind."""

from keras_transformer.export import layout
from keras_transformer.serving.served_encoder_model import ServedEncoderModel
from keras_transformer.serving.served_model import ServedModel


def load_served_model(
    model_path,
    runtime="savedmodel",
    name=None,
    version=None,
    limits=None,
    batching=True,
    batch_wait_s=0.0,
    intra_op_num_threads=0,
):
    """Loads an export for serving: a `ServedModel` for a translation
    export, a `ServedEncoderModel` for a BERT task export.

    Arguments as for `ServedModel`; `batching` and `batch_wait_s` apply to
    translation exports (the micro-batching of decoding), a BERT model's
    forward passes run as sent.
    """
    _, path = layout.resolve_version(model_path, version)
    if layout.manifest_kind(layout.read_manifest(path)) == layout.KIND_ENCODER:
        return ServedEncoderModel(
            model_path, runtime=runtime, name=name, version=version, limits=limits,
            intra_op_num_threads=intra_op_num_threads,
        )
    return ServedModel(
        model_path, runtime=runtime, name=name, version=version, limits=limits,
        batching=batching, batch_wait_s=batch_wait_s,
        intra_op_num_threads=intra_op_num_threads,
    )
