"""Opening and preparing TFDS datasets, failing fast when offline.

Shared by every loader of this package (`load_translation`, `load_ner`,
`load_squad`): they differ in the datasets they accept and what they read
from them, not in how a dataset is found, prepared or refused.

When a dataset is not prepared in `data_dir`, its download hosts (from the
dataset's registered URLs) are probed with a short TCP connection timeout
first. If none answers, a `RuntimeError` comes within seconds and says how
to prepare the data on another machine, instead of the downloader retrying
for minutes. Nothing falls back to another dataset.
"""

import logging
import os
import socket
import threading
import urllib.parse
import urllib.request

import tensorflow_datasets as tfds

logger = logging.getLogger(__name__)

# Seconds to wait for a TCP connection (name resolution included) when
# deciding whether a download can work from this machine.
PROBE_TIMEOUT_SECONDS = 3.0
# Probed when a TFDS dataset registers no download URLs: TFDS's own host.
FALLBACK_PROBE_URL = "https://storage.googleapis.com"


def open_builder(name, data_dir, argument, supported):
    """Returns `tfds.builder(name)`, or a `ValueError` naming `argument`.

    Args:
        name: The TFDS name, with optional config and version.
        data_dir: The TFDS data directory.
        argument: The caller's argument that holds `name`, for the message.
        supported: What the caller accepts, in words, for the message.
    """
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(
            f"Unknown dataset {name!r}. Expected {supported}. Received: "
            f"{argument}={name!r}"
        ) from None
    except ValueError as error:  # e.g. an unknown config of a known dataset
        raise ValueError(
            f"Received an invalid value for argument `{argument}`, expected "
            f"{supported}. TFDS says: {error}"
        ) from None


def ensure_prepared(name, builder, builtin_name, download, advice, extra_urls=()):
    """Prepares `builder` unless it is; fails fast when that needs a download
    that cannot happen.

    Args:
        name: The dataset name as the user gave it.
        builder: Its `tfds.core.DatasetBuilder`.
        builtin_name: The package's built-in dataset of this kind, prepared
            from the package files without a download.
        download: Whether a download is allowed.
        advice: A sentence for the user that ends the "how to prepare it"
            message (which data needs no download, another way to load).
        extra_urls: Download URLs to probe besides those TFDS registers.

    Raises:
        RuntimeError: when the dataset must be downloaded and `download` is
            `False` or none of its download hosts answers.
    """
    if builder.is_prepared():
        return builder
    if builder.name != builtin_name:
        if not download:
            raise RuntimeError(
                f"Dataset {name!r} is not prepared in {builder.data_dir} and "
                f"download=False. {how_to_prepare(name, builder, advice)}"
            )
        _check_download_hosts(name, builder, advice, extra_urls)
    builder.download_and_prepare()
    return builder


def how_to_prepare(name, builder, advice):
    """The instructions for preparing `name` elsewhere and using it here."""
    data_dir = os.fspath(builder.data_dir_root)
    return (
        "To use it on a machine without internet access, prepare it on one "
        f"with access (`tfds build {name} --data_dir DIR`, or "
        f"`tfds.builder({name!r}, data_dir=DIR).download_and_prepare()` in "
        "Python), copy DIR here and pass it as `data_dir` (`--data-dir` on "
        f"the command line). Looked in: data_dir={data_dir!r}. {advice}"
    )


def _check_download_hosts(name, builder, advice, extra_urls=()):
    """Raises `RuntimeError` at once if no download host of `builder` answers."""
    urls = sorted({*(builder.url_infos or ()), *extra_urls}) or [FALLBACK_PROBE_URL]
    addresses = sorted({probe_address(url) for url in urls})
    reachable = _probe_all(addresses, PROBE_TIMEOUT_SECONDS)
    unreachable = [a for a, ok in zip(addresses, reachable) if not ok]
    hosts = ", ".join(f"{host}:{port}" for host, port in unreachable)
    if len(unreachable) == len(addresses):
        raise RuntimeError(
            f"Dataset {name!r} is not prepared in {builder.data_dir} and "
            f"cannot be downloaded: no connection to its download host(s) "
            f"{hosts} (probed for {PROBE_TIMEOUT_SECONDS:g} s). "
            f"{how_to_prepare(name, builder, advice)}"
        )
    if unreachable:
        logger.warning(
            "Preparing %r: download host(s) %s did not answer within %g s; "
            "the download may fail.", name, hosts, PROBE_TIMEOUT_SECONDS,
        )


def probe_address(url):
    """The (host, port) a download of `url` connects to first.

    That is the proxy's when `urllib` would use one for `url` (the
    `https_proxy` / `http_proxy` environment variables, unless `no_proxy`
    exempts the host), the URL's host otherwise.
    """
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme or "https"
    proxy = urllib.request.getproxies().get(scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        proxy_parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"//{proxy}")
        return proxy_parts.hostname, proxy_parts.port or 8080
    default_port = 80 if scheme == "http" else 443
    return parts.hostname, parts.port or default_port


def can_reach(host, port, timeout=PROBE_TIMEOUT_SECONDS):
    """Whether a TCP connection to `host:port` opens within `timeout` seconds.

    Name resolution counts against the timeout too (a socket timeout alone
    does not bound it), so the answer comes within `timeout` seconds.
    """
    return _probe_all([(host, port)], timeout)[0]


def _probe_all(addresses, timeout):
    """Probes all `(host, port)` addresses in parallel; a list of booleans."""
    results = [False] * len(addresses)

    def connect(index, address):
        try:
            with socket.create_connection(address, timeout=timeout):
                results[index] = True
        except OSError:
            pass

    threads = [
        threading.Thread(target=connect, args=(i, address), daemon=True)
        for i, address in enumerate(addresses)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        # Threads still resolving a name after the timeout are abandoned.
        thread.join(timeout)
    return list(results)
