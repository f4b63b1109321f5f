"""The repositories source: kopia/<repository>/ and restic/<repository>/ of each list-mode bucket.

File-system backups (and the data mover) keep their data in these repositories, one per namespace; they hold
most of a bucket's objects and change with every such backup, so they are listed whole, on their own, slower
interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from velero_exporter.sources.aws.api import AwsApi
from velero_exporter.sources.aws.s3 import Bucket, S3Object, usage
from velero_exporter.state.aws_records import REPOSITORY_KINDS, BucketTarget, RepositoryUsage
from velero_exporter.state.store import Store, TargetHealth

SOURCE = "repositories"


def list_mode(targets: Mapping[str, BucketTarget]) -> dict[str, BucketTarget]:
    """cloudwatch mode measures the whole bucket: no repository of its own to list."""
    return {name: t for name, t in targets.items() if t.settings.mode == "list"}


class RepositoryRefresher:
    def __init__(self, store: Store, api: AwsApi, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._api = api
        self._clock = clock

    def forget(self, targets: Mapping[str, BucketTarget]) -> None:
        self._store.repositories.retain({t.key for t in targets.values()})

    async def refresh(self, name: str, target: BucketTarget, health: TargetHealth) -> None:
        bucket = Bucket(self._api, target, health)
        listings = {kind: (await bucket.list(target.path(kind), delimiter=False)).objects for kind in REPOSITORY_KINDS}
        measured = self._clock()
        repositories: dict[tuple[str, str], list[S3Object]] = {}
        for kind, objects in listings.items():
            base = target.path(kind)
            for obj in objects:
                repository, slash, _ = obj.key.removeprefix(base).partition("/")
                # Objects right under kopia/ or restic/ belong to no repository; they count in the kind only.
                if slash:
                    repositories.setdefault((kind, repository), []).append(obj)
        self._store.repositories.put(
            target.key,
            RepositoryUsage(
                target,
                measured,
                repositories={key: usage(objects, measured) for key, objects in sorted(repositories.items())},
                kinds={kind: usage(objects, measured) for kind, objects in listings.items()},
            ),
        )
