"""Warming the server up: the modules that pages need (torch above all, seconds to import) are
imported once, in a background thread, when the app starts, so that the first visitor of a page
that needs them does not wait for the import. A page that needs a module before the thread has
imported it simply waits for the rest of that import (Python's import lock), never imports twice.
torch's thread count in the server is set here too, once (CNN_LAB_SERVER_THREADS).
"""

from __future__ import annotations

import importlib
import threading

from cnn_core.settings import get_settings

# what the training, runs and look-inside pages import, heaviest first
SERVER_MODULES = (
    "torch",
    "plotly.graph_objects",
    "pandas",
    "sklearn.datasets",
    "cnn_core.arch.model",
    "cnn_core.concepts.convolution",
    "cnn_core.concepts.images",
    "cnn_core.concepts.strides",
    "cnn_core.concepts.pooling",
    "cnn_core.concepts.seeded",
    "cnn_core.train.estimate",
    "cnn_core.inspection.loading",
    "cnn_core.inspection.predictions",
    "cnn_core.inspection.maximise",
    "cnn_core.inspection.attribution",
    "cnn_core.inspection.invariance",  # torchvision.transforms.v2 too: seconds more
    "cnn_core.concepts.activations",
    "cnn_core.concepts.batch_speed",
    "cnn_core.arch.backbones",
    "torchvision.models",  # the transfer-learning presets' backbones, which backbones.py imports only when used
)


def set_server_threads() -> None:
    """torch's intra-op threads in this (the server's) process, from the settings: set once at start,
    before any page computes, never by a page."""
    threads = get_settings().server_threads
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


_started = threading.Lock()  # held for good by the first caller: one warm-up per process


def import_in_background(modules: tuple[str, ...] = SERVER_MODULES) -> threading.Thread | None:
    """Start importing modules in a daemon thread, the first time this is called in the process;
    the thread, or None when a warm-up has already started."""
    if not _started.acquire(blocking=False):
        return None

    def run() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - a page importing it later shows the real error
                continue
            if name == "torch":
                set_server_threads()

    thread = threading.Thread(target=run, name="cnn-lab-warm-up", daemon=True)
    thread.start()
    return thread
