"""Where an export puts its files: TensorFlow Serving's layout.

TF Serving watches a model base path `EXPORT_DIR/NAME/` and serves its
numbered version folders; it reads only the SavedModel at the top of a
version folder and leaves `assets.extra/` to the user. Everything else an
export writes therefore lives there:

    EXPORT_DIR/NAME/VERSION/
        saved_model.pb, variables/, assets/, fingerprint.pb   (SavedModel)
        assets.extra/
            export.json                 manifest: config, signatures, checks
            tokenizer/                  `SubwordTokenizer.save` output
            onnx/forward.onnx           (B, S) + (B, T) ids -> (B, T, V) logits
            onnx/encoder.onnx           (B, S) ids -> cross-attention caches
            onnx/decoder_step.onnx      one cached decoder step

A version folder is written under a temporary name that TF Serving ignores
(it is not a number) and renamed once every check passed, so a server never
sees a half-written or unverified version.
"""

import contextlib
import json
import os
import pathlib
import shutil

from keras_transformer.layers import checks

FORMATS = ("savedmodel", "onnx")
ASSETS_EXTRA = "assets.extra"
MANIFEST_FILENAME = "export.json"
TOKENIZER_DIRNAME = "tokenizer"
ONNX_DIRNAME = "onnx"
ONNX_PARTS = ("forward", "encoder", "decoder_step")
MANIFEST_FORMAT_VERSION = 1
# What an export holds, the manifest's "kind": a translation model
# (`export_translation`) or a BERT task model (`export_encoder_model`).
# Manifests without "kind" are translation exports.
KIND_TRANSLATION = "translation"
KIND_ENCODER = "encoder"


def version_dir(output_dir, name, version):
    """`output_dir/name/version`, with `name` and `version` checked."""
    if not isinstance(name, str) or not name or not _is_plain_name(name):
        raise checks.invalid_argument(
            "name", "a non-empty model name of letters, digits, '-', '_' or '.'",
            name,
        )
    version = checks.positive_int("version", version)
    return pathlib.Path(output_dir) / name / str(version)


def parse_formats(formats):
    """A list of distinct `FORMATS` from a list or a comma-separated string."""
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    formats = list(formats)
    if not formats or len(set(formats)) != len(formats) or any(
        f not in FORMATS for f in formats
    ):
        raise checks.invalid_argument(
            "formats", f"a non-empty list of distinct values from {list(FORMATS)}",
            formats,
        )
    return formats


def check_new_version(final_path, overwrite):
    """Raises if the version folder exists and may not be replaced."""
    if pathlib.Path(final_path).exists() and not overwrite:
        raise ValueError(
            f"The version folder {final_path} exists already. Export to a new "
            "`version` (TF Serving serves the highest), or pass "
            "overwrite=True to replace it."
        )


@contextlib.contextmanager
def staged_version_dir(final_path):
    """Yields an empty folder that becomes `final_path` if the block succeeds.

    The folder's name is not a number, so TF Serving ignores it while it is
    written; an existing `final_path` is replaced only at the end, and a
    block that raises leaves nothing behind.
    """
    final_path = pathlib.Path(final_path)
    staging = final_path.parent / f".{final_path.name}.incomplete-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        yield staging
        if final_path.exists():
            shutil.rmtree(final_path)
        os.replace(staging, final_path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def manifest_path(path):
    return pathlib.Path(path) / ASSETS_EXTRA / MANIFEST_FILENAME


def tokenizer_dir(path):
    return pathlib.Path(path) / ASSETS_EXTRA / TOKENIZER_DIRNAME


def onnx_dir(path):
    return pathlib.Path(path) / ASSETS_EXTRA / ONNX_DIRNAME


def onnx_path(path, part):
    checks.one_of("part", part, ONNX_PARTS)
    return onnx_dir(path) / f"{part}.onnx"


def write_manifest(path, manifest):
    target = manifest_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def read_manifest(path):
    """Reads the manifest of a version folder written by the exporter."""
    source = manifest_path(path)
    if not source.is_file():
        raise ValueError(
            "Received an invalid value for argument `path`, expected a "
            f"version folder written by the keras_transformer exporter (with "
            f"{ASSETS_EXTRA}/{MANIFEST_FILENAME}). Received: path={str(path)!r}"
        )
    manifest = json.loads(source.read_text())
    if manifest.get("format_version") != MANIFEST_FORMAT_VERSION:
        raise ValueError(
            f"{source} has format_version={manifest.get('format_version')!r}; "
            f"this version of keras_transformer reads {MANIFEST_FORMAT_VERSION}."
        )
    return manifest


def manifest_kind(manifest):
    """`KIND_TRANSLATION` or `KIND_ENCODER`: which exporter wrote it."""
    return manifest.get("kind", KIND_TRANSLATION)


def resolve_version(model_path, version=None):
    """Finds the version folder to serve, as TF Serving does.

    Args:
        model_path: A model base path (`EXPORT_DIR/NAME`, holding numbered
            versions) or a version folder itself.
        version: The version to serve; `None` picks the highest.

    Returns:
        `(version, version_path)`.
    """
    model_path = pathlib.Path(model_path)
    if manifest_path(model_path).is_file() and version is None:
        if model_path.name.isdigit():
            return int(model_path.name), model_path
        return read_manifest(model_path)["version"], model_path
    versions = sorted(
        int(child.name)
        for child in (model_path.iterdir() if model_path.is_dir() else ())
        if child.name.isdigit() and manifest_path(child).is_file()
    )
    if not versions:
        raise ValueError(
            "Received an invalid value for argument `model_path`, expected a "
            "model base path with numbered version folders written by the "
            "exporter (EXPORT_DIR/NAME/VERSION/), or a version folder. "
            f"Received: model_path={str(model_path)!r}"
        )
    if version is None:
        version = versions[-1]
    version = checks.positive_int("version", version)
    if version not in versions:
        raise checks.invalid_argument(
            "version", f"one of the exported versions {versions}", version
        )
    return version, model_path / str(version)


def _is_plain_name(name):
    return all(c.isalnum() or c in "-_." for c in name) and name not in (".", "..")

