"""A small translation model and tokenizer, saved the way training saves them.

Tests, the serving benchmark and the export README need a `model.keras` and
a `tokenizer/` folder like `examples/train_translation.py` writes, in
seconds rather than the minutes real training takes.
"""

import pathlib

import keras

from keras_transformer.data import SubwordTokenizer
from keras_transformer.data import load_translation
from keras_transformer.data import make_translation_batches
from keras_transformer.export import layout
from keras_transformer.export.exporter import export_translation
from keras_transformer.layers import checks
from keras_transformer.models import Seq2SeqTransformer
from keras_transformer.training import MaskedSparseCrossentropy
from keras_transformer.training import TransformerSchedule


def make_demo_translator(
    output_dir,
    preset="cpu_tiny",
    num_pairs=500,
    vocabulary_size=400,
    max_sequence_length=64,
    train_steps=0,
    seed=0,
    data_dir=None,
):
    """Trains a tokenizer and builds (optionally trains) a model; saves both.

    The tokenizer is a joint BPE vocabulary of the first `num_pairs`
    English-Spanish pairs of the built-in `bible_en_es` train split; the
    model a `Seq2SeqTransformer` preset with shared embeddings. With
    `train_steps=0` its weights stay random: its outputs are meaningless
    (and usually run to the maximum length) but exactly reproducible,
    which is what exports need to be checked against.

    Args:
        output_dir: Folder for `model.keras` and `tokenizer/`.
        preset: A `SEQ2SEQ_PRESETS` name.
        num_pairs: Training pairs read for the tokenizer (and training).
        vocabulary_size: Tokenizer vocabulary size (at least ~300: the 256
            byte pieces and the specials are part of it).
        max_sequence_length: The model's maximum length.
        train_steps: `model.fit` steps on batches of 32 pairs (0: none).
        seed: Seed of the weights and of the batch order.
        data_dir: TFDS data directory the built-in corpus is prepared in.

    Returns:
        `(model_path, tokenizer_dir)`.
    """
    checks.non_negative_int("train_steps", train_steps)
    output_dir = pathlib.Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    pairs, _ = load_translation(
        "bible_en_es", f"train[:{checks.positive_int('num_pairs', num_pairs)}]",
        data_dir=data_dir,
    )
    texts = [text.decode("utf-8") for pair in pairs.as_numpy_iterator() for text in pair]
    tokenizer = SubwordTokenizer.train(texts, vocabulary_size=vocabulary_size, seed=seed)
    keras.utils.set_random_seed(seed)
    model = Seq2SeqTransformer.from_preset(
        preset,
        encoder_vocabulary_size=tokenizer.vocabulary_size,
        max_sequence_length=max_sequence_length,
        share_embeddings=True,
    )
    if train_steps:
        batches = make_translation_batches(
            pairs, tokenizer, max_length=max_sequence_length, batch_size=32,
            seed=seed, report_overlength=False,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(
                TransformerSchedule(model.hidden_dim, max(1, train_steps // 4)),
                beta_1=0.9, beta_2=0.98, epsilon=1e-9,
            ),
            loss=MaskedSparseCrossentropy(label_smoothing=0.1),
        )
        model.fit(batches.repeat(), steps_per_epoch=train_steps, epochs=1, verbose=0)
    model_path = output_dir / "model.keras"
    model.save(model_path)
    tokenizer_dir = output_dir / "tokenizer"
    tokenizer.save(tokenizer_dir)
    return model_path, tokenizer_dir


def make_demo_export(
    output_dir,
    name="demo",
    formats=("savedmodel", "onnx"),
    max_output_length=16,
    beam_width=3,
    data_dir=None,
    **translator_args,
):
    """A verified export of `make_demo_translator`'s model, made once.

    Writes the model and tokenizer to `output_dir/training/` and exports
    version 1 to `output_dir/exports/name/1/`. When that version exists
    already (a previous call), it is reused as it is.

    Args:
        output_dir: Folder for everything.
        name: The exported model's name.
        formats: Export formats.
        max_output_length: L of the export (short keeps random-weight
            decoding, which runs to L, fast).
        beam_width: K of its beam-search signatures.
        data_dir: TFDS data directory for the built-in corpus.
        **translator_args: Passed to `make_demo_translator`.

    Returns:
        The export's manifest (with "path").
    """
    output_dir = pathlib.Path(output_dir)
    path = layout.version_dir(output_dir / "exports", name, 1)
    if layout.manifest_path(path).is_file():
        return {**layout.read_manifest(path), "path": str(path)}
    model_path, tokenizer_dir = make_demo_translator(
        output_dir / "training", data_dir=data_dir, **translator_args
    )
    return export_translation(
        model_path, tokenizer_dir, output_dir / "exports", name=name, version=1,
        formats=formats, max_output_length=max_output_length, beam_width=beam_width,
    )
