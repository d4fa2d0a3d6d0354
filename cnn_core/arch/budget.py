"""The size budget of a network: its parameters and the memory of its layer outputs for one
image, added up layer by layer as a summary walks the network and refused, with the estimate, as
soon as either passes its cap in the settings, before anything is built or allocated.
"""

from __future__ import annotations

from collections.abc import Callable

from cnn_core.arch.formatting import format_bytes, format_count
from cnn_core.i18n import t


class Budget:
    """Running totals of one network against the settings' max_params and max_activation_bytes."""

    def __init__(self, settings):
        self.max_params, self.max_bytes = settings.max_params, settings.max_activation_bytes
        self.params = self.activation_bytes = 0

    def add(self, params: int, activation_bytes: int, err: Callable[[str, str], Exception]) -> None:
        """Count one layer; err(reason, fix) is raised, naming that layer, when a cap is passed."""
        self.params += params
        self.activation_bytes += activation_bytes
        if self.params > self.max_params:
            need, cap = format_count(self.params), format_count(self.max_params)
            raise err(t("spec.err.params_cap", need=need, cap=cap), t("spec.fix.params_cap"))
        if self.activation_bytes > self.max_bytes:
            need, cap = format_bytes(self.activation_bytes), format_bytes(self.max_bytes)
            raise err(t("spec.err.activation_cap", need=need, cap=cap), t("spec.fix.activation_cap"))
