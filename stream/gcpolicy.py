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
"""

from __future__ import annotations

import gc

YOUNG_COLLECTION_OBJECTS = 10_000


def settle_collector() -> None:
    """Freeze what exists now (modules, loaded models) and collect the young less often.

    Call once the long-lived objects of start-up exist. Cyclic garbage made later is
    still collected; freezing also keeps a forked checkpoint writer from touching, and so
    copying, the parent's pages of frozen objects.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_OBJECTS, 10, 10)
