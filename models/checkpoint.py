"""Model checkpoints on disk: written atomically, read defensively.

A checkpoint is a small header (format version, the engine settings that shape the
models, when and after how many events it was written) followed by the pickled
``ModelSuite``. A checkpoint that is missing, corrupt, from another format version or
made with other settings is reported and ignored: the worker then starts with fresh
models rather than not at all.
"""

from __future__ import annotations

import logging
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import CheckpointError
from models.suite import ModelSuite

log = logging.getLogger(__name__)

FORMAT_VERSION = 7  # bump whenever the ModelSuite layout changes
MAGIC = b"PULSECKPT"


@dataclass(frozen=True)
class CheckpointInfo:
    format_version: int
    horizon_days: int
    seed: int
    events: int
    written_at_ms: int


def save_checkpoint(suite: ModelSuite, path: Path, events: int, written_at_ms: int) -> CheckpointInfo:
    """Write ``suite`` to ``path`` atomically (a crash mid-write leaves the old file)."""
    info, data = checkpoint_bytes(suite, events, written_at_ms)
    write_atomically(path, data)
    return info


def checkpoint_bytes(suite: ModelSuite, events: int, written_at_ms: int) -> tuple[CheckpointInfo, bytes]:
    """The checkpoint as bytes: the part that must see the models at rest."""
    info = CheckpointInfo(FORMAT_VERSION, suite.horizon_days, suite.seed, events, written_at_ms)
    header = pickle.dumps(info.__dict__, protocol=pickle.HIGHEST_PROTOCOL)
    return info, MAGIC + header + pickle.dumps(suite, protocol=pickle.HIGHEST_PROTOCOL)


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file, fsync, rename: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_checkpoint(path: Path, horizon_days: int, seed: int) -> tuple[ModelSuite, CheckpointInfo]:
    """Read a checkpoint made with the same settings; raise ``CheckpointError`` otherwise."""
    try:
        with open(path, "rb") as handle:
            if handle.read(len(MAGIC)) != MAGIC:
                raise CheckpointError(f"{path} is not a customer-pulse checkpoint")
            info = CheckpointInfo(**pickle.load(handle))
            _check_compatible(info, path, horizon_days, seed)
            suite = pickle.load(handle)
    except FileNotFoundError as exc:
        raise CheckpointError(f"no checkpoint at {path}") from exc
    except (
        OSError,
        EOFError,
        pickle.UnpicklingError,
        TypeError,
        AttributeError,
        ImportError,
        ValueError,
        KeyError,
        IndexError,
        MemoryError,
    ) as exc:
        raise CheckpointError(f"{path} is unreadable or corrupt: {exc!r}") from exc
    if not isinstance(suite, ModelSuite):
        raise CheckpointError(f"{path} holds a {type(suite).__name__}, not a ModelSuite")
    return suite, info


def _check_compatible(info: CheckpointInfo, path: Path, horizon_days: int, seed: int) -> None:
    if info.format_version != FORMAT_VERSION:
        raise CheckpointError(f"{path} has format {info.format_version}, this version reads {FORMAT_VERSION}")
    if (info.horizon_days, info.seed) != (horizon_days, seed):
        raise CheckpointError(
            f"{path} was made with horizon {info.horizon_days} days and seed {info.seed}, "
            f"the settings ask for {horizon_days} and {seed}"
        )


def restore_or_fresh(path: Path, horizon_days: int, seed: int) -> tuple[ModelSuite, dict[str, Any]]:
    """The checkpointed suite if usable, else fresh models; never raises."""
    try:
        suite, info = read_checkpoint(path, horizon_days, seed)
    except CheckpointError as exc:
        if path.exists():
            log.warning("ignoring model checkpoint: %s; starting with fresh models", exc)
        return ModelSuite(horizon_days=horizon_days, seed=seed), {"restored": False, "reason": str(exc)}
    log.info("restored models from %s (%d events)", path, info.events)
    return suite, {"restored": True, **info.__dict__}
