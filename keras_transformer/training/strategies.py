"""Choosing a `tf.distribute` strategy by name.

Keras 3's own `keras.distribution.DataParallel` does nothing on the
TensorFlow backend, so data parallelism there goes through `tf.distribute`:
build and compile the model inside `strategy.scope()`, then `model.fit`.
"""

import tensorflow as tf

from keras_transformer.layers import checks

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker_mirrored")


def get_strategy(name="default", device=None):
    """Returns the `tf.distribute.Strategy` called `name`.

    Args:
        name: "default" (no distribution), "one_device" (pin to `device`,
            default the first GPU or the CPU), "mirrored" (all local devices,
            synchronous), or "multi_worker_mirrored" (several machines,
            configured by the `TF_CONFIG` environment variable).
        device: The device for "one_device", e.g. "/gpu:0".
    """
    checks.one_of("strategy", name, set(STRATEGIES))
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        if device is None:
            device = "/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0"
        return tf.distribute.OneDeviceStrategy(device)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.MultiWorkerMirroredStrategy()
