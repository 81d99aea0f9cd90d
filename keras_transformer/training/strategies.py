"""Choosing a `tf.distribute` strategy by name.

Keras 3's own `keras.distribution.DataParallel` does nothing on the
TensorFlow backend, so data parallelism there goes through `tf.distribute`:
build and compile the model inside `strategy.scope()`, then `model.fit`.

"multi_worker_mirrored" must be created before the program runs any
TensorFlow op (collective ops are configured when the TensorFlow context
starts). Under it, `model.fit` needs
`keras_transformer.training.prepare_multi_worker_fit(model)` (Keras 3 on
TensorFlow fails otherwise: keras-team/keras#20585), and the batches
`distributed.split_across_replicas`.
"""

import tensorflow as tf

from keras_transformer.layers import checks
from keras_transformer.training.distributed import remember_strategy

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker_mirrored")
CLUSTER_RESOLVERS = ("tf_config", "slurm")


def get_strategy(name="default", device=None, cluster_resolver="tf_config"):
    """Returns the `tf.distribute.Strategy` called `name`.

    Args:
        name: "default" (no distribution), "one_device" (pin to `device`,
            default the first GPU or the CPU), "mirrored" (all local devices,
            synchronous), or "multi_worker_mirrored" (several processes or
            machines, synchronous; every worker runs the same program).
        device: The device for "one_device", e.g. "/gpu:0".
        cluster_resolver: For "multi_worker_mirrored", where the cluster is
            described: "tf_config" (the `TF_CONFIG` environment variable of
            each worker) or "slurm" (the job's Slurm variables, one task per
            worker, e.g. under `srun`).
    """
    checks.one_of("strategy", name, set(STRATEGIES))
    checks.one_of("cluster_resolver", cluster_resolver, set(CLUSTER_RESOLVERS))
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        if device is None:
            device = "/gpu:0" if tf.config.list_logical_devices("GPU") else "/cpu:0"
        return tf.distribute.OneDeviceStrategy(device)
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if cluster_resolver == "slurm":
        resolver = tf.distribute.cluster_resolver.SlurmClusterResolver()
    else:
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    return remember_strategy(
        tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    )
