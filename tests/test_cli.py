"""The `keras-transformer` command and the export script.

(`serve` runs as a real process in tests/test_serving.py.)
"""

import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

from export import export_translation as export_script
from keras_transformer import cli
from keras_transformer.export import layout
from keras_transformer.export import make_demo_export


@pytest.fixture(scope="module")
def training_dir(tmp_path_factory):
    """model.keras and tokenizer/ of the shared demo export."""
    base = tmp_path_factory.getbasetemp()
    make_demo_export(base / "demo_export", data_dir=base / "tfds")
    return base / "demo_export" / "training"


def test_help_lists_both_commands(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "export" in out and "serve" in out
    for command, flags in (("export", ["--formats", "--opset", "--version", "--name"]),
                           ("serve", ["--runtime", "--max-batch-size", "--max-request-bytes",
                                      "--max-text-chars", "--max-text-tokens", "--host"])):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        out = capsys.readouterr().out
        for flag in flags:
            assert flag in out, (command, flag)


def test_export_command_writes_an_ids_only_savedmodel(training_dir, tmp_path, capsys):
    status = cli.main([
        "export", "--model", str(training_dir / "model.keras"),
        "--tokenizer", str(training_dir / "tokenizer"), "--output", str(tmp_path),
        "--name", "cli_model", "--version", "3", "--formats", "savedmodel",
        "--max-output-length", "5", "--beam-width", "2", "--no-text-signatures",
    ])
    assert status == 0
    assert "checks against the Keras model passed" in capsys.readouterr().out
    path = tmp_path / "cli_model" / "3"
    manifest = layout.read_manifest(path)
    assert manifest["formats"] == ["savedmodel"] and not manifest["text_signatures"]
    assert manifest["decoding"]["beam_width"] == 2
    assert set(manifest["signatures"]) == {"generate", "generate_greedy", "logits",
                                           "serving_default"}
    assert all(check["passed"] for check in manifest["verification"]["checks"])
    assert not layout.onnx_dir(path).exists()

    # Without TensorFlow Text ops, the plain saved_model_cli runs it.
    cli_path = pathlib.Path(sys.executable).parent / "saved_model_cli"
    ran = subprocess.run(
        [str(cli_path), "run", "--dir", str(path), "--tag_set", "serve",
         "--signature_def", "serving_default",
         "--input_exprs", "encoder_token_ids=[[40, 41, 3]]"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "Result for output key output_ids" in ran.stdout

    # That export has no ONNX graphs to serve: a clear error, exit status 2.
    status = cli.main(["serve", "--model-dir", str(tmp_path / "cli_model"),
                       "--runtime", "onnx", "--port", "0"])
    assert status == 2
    assert "formats ['savedmodel'], not 'onnx'" in capsys.readouterr().err


def test_export_command_reports_bad_arguments(training_dir, tmp_path, capsys):
    base = ["export", "--model", str(training_dir / "model.keras"),
            "--tokenizer", str(training_dir / "tokenizer"), "--output", str(tmp_path)]
    for args, message in (
        (["--model", "missing.keras"], "argument `model`"),
        (["--tokenizer", str(tmp_path)], "argument `path`"),
        (["--formats", "savedmodel,pmml"], "argument `formats`"),
        (["--opset", "12"], "argument `opset`"),
        (["--version", "-1"], "argument `version`"),
    ):
        assert cli.main(base + args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("keras-transformer export: error:") and message in err, err


def test_serve_command_reports_a_missing_export(tmp_path, capsys):
    assert cli.main(["serve", "--model-dir", str(tmp_path), "--port", "0"]) == 2
    assert "argument `model_path`" in capsys.readouterr().err


def test_export_script_exports_a_training_folder(training_dir, tmp_path, capsys):
    manifest = export_script.main([
        "--training-dir", str(training_dir), "--output", str(tmp_path),
        "--name", "script", "--formats", "onnx", "--max-output-length", "4",
        "--beam-width", "2",
    ])
    path = pathlib.Path(manifest["path"])
    assert path == tmp_path / "script" / "1"
    assert layout.onnx_path(path, "decoder_step").is_file()
    on_disk = json.loads(layout.manifest_path(path).read_text())
    assert on_disk["formats"] == ["onnx"]
    out = capsys.readouterr().out
    assert "[verify]" in out and "keras-transformer serve --model-dir" in out


# === train and translate (end to end in tests/test_cli_train.py) ===


def test_help_lists_train_and_translate(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "train" in out and "translate" in out
    # `train --help` is the translation job's own help: one definition.
    with pytest.raises(SystemExit) as caught:
        cli.main(["train", "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--dataset", "--source-language", "--output-dir", "--time-budget-minutes"):
        assert flag in out, flag
    with pytest.raises(SystemExit):
        cli.main(["translate", "--help"])
    out = capsys.readouterr().out
    for flag in ("--model", "--beam-width", "--truncate", "texts"):
        assert flag in out, flag


@pytest.mark.parametrize("task, message", [
    ("ner", r"example script examples/finetune_ner\.py.*python -m examples\.finetune_ner"),
    ("qa", r"example script examples/finetune_qa\.py"),
    ("classification", r"the package has no training job for it"),
])
def test_train_tasks_without_a_package_job_name_what_to_run(task, message, capsys):
    if importlib.util.find_spec(cli.TRAINING_JOBS[task]) is not None:
        pytest.skip(f"{cli.TRAINING_JOBS[task]} exists: `train --task {task}` runs it")
    assert cli.main(["train", "--task", task, "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"keras-transformer train: error: `keras-transformer train "
                          f"--task {task}` is not available")
    assert re.search(message, err), err
    assert f"Received: --task={task}" in err


def test_translate_and_other_commands_report_bad_arguments(tmp_path, capsys):
    assert cli.main(["translate", "--model", str(tmp_path), "hello"]) == 2
    err = capsys.readouterr().err
    assert "argument `--model`, expected a folder holding model.keras" in err
    # Only `train` passes options on (to the job); the others reject unknown ones.
    with pytest.raises(SystemExit) as caught:
        cli.main(["serve", "--model-dir", str(tmp_path), "--no-such-flag"])
    assert caught.value.code == 2
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err
