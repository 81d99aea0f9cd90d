"""onnxruntime sessions on the CPU, as the package's runtimes open them."""

import pathlib

import onnxruntime


def cpu_session(path, intra_op_num_threads=0, spinning=False):
    """An `onnxruntime.InferenceSession` of `path` on the CPU provider.

    Args:
        path: The `.onnx` file.
        intra_op_num_threads: Threads of the session (0: onnxruntime's
            default, one per physical core).
        spinning: Whether idle threads spin. Keep it off for sessions run
            in short calls between Python work (decoding steps, concurrent
            requests): spinning threads take the cores from that work. Turn
            it on for one long run with nothing in between (a forward pass),
            where spinning threads pick up each op's work sooner.
    """
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = intra_op_num_threads
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(
        str(pathlib.Path(path)), sess_options=options, providers=["CPUExecutionProvider"]
    )
