"""The dependency arrows of STYLE.md, checked by parsing imports."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def python_files(folder):
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", python_files("keras_transformer/layers"), ids=str)
def test_layers_use_public_keras_only(path):
    for module in imported_modules(path):
        top = module.split(".")[0]
        assert top not in {"tensorflow", "tf_keras", "torch", "jax"}, module
        assert not module.startswith("keras.src"), module
        assert not module.startswith("keras_transformer.models"), module
        if top == "keras_transformer":
            assert module.startswith("keras_transformer.layers"), module


@pytest.mark.parametrize(
    "path", python_files("examples") + python_files("export"), ids=str
)
def test_examples_use_the_public_api_only(path):
    for module in imported_modules(path):
        assert not module.startswith("keras.src"), module
        if module.startswith("keras_transformer"):
            assert not any(part.startswith("_") for part in module.split(".")), module


def test_one_public_layer_class_per_file():
    for path in python_files("keras_transformer/layers"):
        tree = ast.parse(path.read_text())
        public = [
            node.name
            for node in tree.body
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_")
            and not node.name.endswith("Base")
        ]
        assert len(public) <= 1, (path, public)
        if public:
            snake = "".join(
                "_" + c.lower() if c.isupper() else c for c in public[0]
            ).lstrip("_")
            assert path.stem == snake, (path, public[0])
