"""The garbage collector's settings for a process that scores events for hours.

CPython's defaults suit short programs: a young collection every 700 net new objects,
and a full one, which walks every tracked object, whenever the survivors have grown by
a quarter. The engine makes a few dicts per event that reference counting frees at
once, and keeps hundreds of thousands of long-lived objects (models, decoded states,
open sessions) that each full collection walks again. Over the 200,000 events of the
throughput benchmark, run through the engine alone, the collector took 4.1 s of 60 CPU
seconds, 3 s of it in 11 full collections of about 0.27 s each, every one a pause for
the events behind it. With the objects that exist once the models are loaded frozen
(never scanned again) and young collections every 10,000 objects: 1.0 s, no full
collection, the same peak memory.

A worker still made full collections: its pending label snapshots, decoded states and
the records in Faust's buffers pile up in the oldest generation. Draining the throughput
benchmark's backlog, five full collections took up to 0.47 s apiece, and all its
collections together 3.9 s for 190 objects found; in another such run they walked
590,000-720,000 objects each, up to 0.59 s. So whatever survives a full collection is
frozen as well: every object it kept is reachable, and the next full collection walks
only objects made since. The cost is that a cycle among frozen objects that later
becomes garbage is never freed; unfreezing and collecting everything every 20 s of a
third run found 20, 0, 0 and 0 such objects.
"""

from __future__ import annotations

import gc

YOUNG_COLLECTION_OBJECTS = 10_000


def settle_collector() -> None:
    """Freeze what exists now (modules, loaded models) and what survives each full
    collection, and collect the young less often.

    Call once the long-lived objects of start-up exist. Cyclic garbage made later is
    still collected, unless its objects had survived a full collection. Freezing also
    keeps a forked checkpoint writer from touching, and so copying, the parent's pages
    of frozen objects.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_OBJECTS, 10, 10)
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    """After a full collection every object it kept is alive: freeze them too."""
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()
