"""Exception tree of customer-pulse.

::

    PulseError
    ├── InvalidEvent          an input event breaks its contract (goes to the dead-letter topic)
    ├── ConfigError           a setting or configuration file is wrong (stops start-up)
    └── CheckpointError       a model checkpoint cannot be read (logged, then ignored)

``stream`` adds its own subclasses for broker and I/O failures.
"""

from __future__ import annotations


class PulseError(Exception):
    """Root of every error raised on purpose by customer-pulse."""


class InvalidEvent(PulseError):
    """An event that breaks its contract.

    ``reason`` is short and machine-readable (a Prometheus label and a dead-letter
    field); ``message`` says what was wrong in words a producer team can act on.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class ConfigError(PulseError):
    """A setting, rule file or data file that cannot be used as given."""


class CheckpointError(PulseError):
    """A model checkpoint that is missing, corrupt or from an incompatible version."""
