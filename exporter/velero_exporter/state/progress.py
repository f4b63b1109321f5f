"""What the exporter remembers of a volume data operation across its versions: when it last moved.

Velero records when an operation was created, accepted and started, but not when its status.progress.bytesDone
last changed. The exporter notes it itself: each version of an unfinished operation keeps the time its phase and
bytesDone were first seen as they are. Pure: the caller passes the previous record and the clock's reading.

A restart of the exporter forgets it: an operation that has moved bytes is then taken to have moved when the
exporter first sees it (a stall is noticed one threshold after the restart, never earlier). An operation that has
moved no byte needs no memory: it last moved at its newest phase step (creation, acceptance, start).
"""

from __future__ import annotations

from dataclasses import replace

from velero_exporter.state.records import VolumeOperation
from velero_exporter.state.vocabulary import FINISHED_VOLUME_OPERATION_PHASES


def remember_progress(previous: VolumeOperation | None, current: VolumeOperation, now: float) -> VolumeOperation:
    """`current` with `moved` carried over from `previous` when nothing moved, else set to `now`."""
    if current.phase in FINISHED_VOLUME_OPERATION_PHASES:
        return current if current.moved is None else replace(current, moved=None)
    if previous is not None and previous.phase == current.phase and previous.bytes_done == current.bytes_done:
        return current if previous.moved == current.moved else replace(current, moved=previous.moved)
    if previous is None and not current.bytes_done:
        return current  # first sight, no byte moved yet: its own timestamps say when it last moved
    return replace(current, moved=now)


def last_progress(operation: VolumeOperation) -> float | None:
    """When the operation last moved: the newest of its phase steps and of the exporter's sightings of a change."""
    steps = [t for t in (operation.created, operation.accepted, operation.started, operation.moved) if t is not None]
    return max(steps) if steps else None
