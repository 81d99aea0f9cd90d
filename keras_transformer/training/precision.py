"""Choosing a mixed-precision policy for the hardware at hand."""

import keras
import tensorflow as tf

from keras_transformer.layers import checks

PRECISIONS = ("auto", "off", "bfloat16", "float16")


def _cpu_has_bfloat16_units():
    """Whether this x86 CPU multiplies bfloat16 natively (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next(
                (line.split(":", 1)[1].split() for line in cpuinfo
                 if line.startswith("flags")), [],
            )
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(choice="auto"):
    """Returns the Keras dtype policy name for `choice`.

    "auto" picks "mixed_bfloat16" where the hardware computes in bfloat16
    natively (a GPU of compute capability 8.0 or newer, or a CPU with
    AVX512-BF16 / AMX), else "float32". Variables stay float32 either way.
    """
    checks.one_of("mixed_precision", choice, set(PRECISIONS))
    if choice == "off":
        return "float32"
    if choice in ("bfloat16", "float16"):
        return f"mixed_{choice}"
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get(
            "compute_capability", (0, 0)
        )
        return "mixed_bfloat16" if tuple(capability) >= (8, 0) else "float32"
    return "mixed_bfloat16" if _cpu_has_bfloat16_units() else "float32"


def set_precision(choice="auto"):
    """Sets Keras's global dtype policy from `choice`; returns its name."""
    policy = resolve_precision(choice)
    keras.mixed_precision.set_global_policy(policy)
    return policy
