"""The versions of the packages an export was made with, for its manifest."""

import importlib.metadata

PACKAGES = (
    "keras-tf-transformer", "tensorflow", "keras", "tensorflow-text", "tf2onnx",
    "onnx", "onnxruntime", "numpy",
)


def package_versions(packages=PACKAGES):
    """{distribution name: installed version, or `None` if not installed}.

    Example:

    >>> package_versions(("numpy", "no-such-package-xyz"))["no-such-package-xyz"] is None
    True
    """
    versions = {}
    for package in packages:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions
