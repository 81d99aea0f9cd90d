"""Test configuration: quiet TensorFlow, deterministic seeds, float32 policy,
and the demo exports that several test modules share."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolate_keras_state():
    """Every test starts from the same seed and the float32 policy."""
    keras.utils.set_random_seed(1234)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()


# === Demo exports shared by the export, serving and CLI tests ===
# Made once per session (the exporters reuse an existing export) under the
# session's base temporary folder.


@pytest.fixture(scope="session")
def translation_demo(tmp_path_factory):
    """The demo translation export (random cpu_tiny weights, 400-id
    tokenizer): `(manifest, version path, Keras model, tokenizer)`."""
    from keras_transformer.data import SubwordTokenizer
    from keras_transformer.export import make_demo_export

    base = tmp_path_factory.getbasetemp()
    manifest = make_demo_export(base / "demo_export", data_dir=base / "tfds")
    training = base / "demo_export" / "training"
    model = keras.saving.load_model(training / "model.keras", compile=False)
    tokenizer = SubwordTokenizer.load(training / "tokenizer")
    return manifest, pathlib.Path(manifest["path"]), model, tokenizer


@pytest.fixture(scope="session")
def encoder_demo(tmp_path_factory):
    """The three demo BERT task exports (token classification, question
    answering, classification; tiny random models over a tiny WordPiece
    vocabulary): {task: (manifest, version path, Keras model from .keras,
    training folder with model.keras and tokenizer/)}."""
    from keras_transformer.export import make_demo_encoder_exports
    from keras_transformer.export.encoder_demo import DEMO_NAMES

    base = tmp_path_factory.getbasetemp() / "encoder_demo"
    manifests = make_demo_encoder_exports(base)
    result = {}
    for task, manifest in manifests.items():
        training = base / "training" / DEMO_NAMES[task]
        model = keras.saving.load_model(training / "model.keras", compile=False)
        result[task] = (manifest, pathlib.Path(manifest["path"]), model, training)
    return result
