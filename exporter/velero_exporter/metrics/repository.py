"""Families of the BackupRepositories: the kopia (or restic) repositories that file-system backups and the data
mover write to, one per namespace, location and type, and their maintenance."""

from __future__ import annotations

from collections.abc import Iterator

from velero_exporter.metrics.family import Labels, Sample, Subject, flag, gauge, known, state_set
from velero_exporter.state.records import Repository
from velero_exporter.state.vocabulary import MAINTENANCE_RESULTS

REPOSITORY = ("repository",)


def _repository(repository: Repository) -> Labels:
    return (repository.name,)


def _last_result(repository: Repository) -> Iterator[Sample]:
    if repository.last_maintenance_result is not None:
        yield from state_set(_repository, MAINTENANCE_RESULTS, lambda r: r.last_maintenance_result)(repository)


REPOSITORIES: Subject[Repository] = Subject(
    "Backup repositories",
    lambda exported: exported.volumes.repositories,
    (
        gauge(
            "velero_repository_ready",
            "1 when the BackupRepository's phase is Ready, 0 while it is New or NotReady.",
            ("repository", "repository_type", "location", "volume_namespace"),
            flag(
                lambda r: (r.name, r.repository_type, r.location, r.volume_namespace),
                lambda r: r.phase == "Ready",
            ),
        ),
        gauge(
            "velero_repository_created_timestamp_seconds",
            "The BackupRepository's creation time (a repository never maintained is overdue from it).",
            REPOSITORY,
            known(_repository, lambda r: r.created),
        ),
        gauge(
            "velero_repository_maintenance_frequency_seconds",
            "How often Velero maintains the repository (spec.maintenanceFrequency).",
            REPOSITORY,
            known(_repository, lambda r: r.maintenance_frequency),
        ),
        gauge(
            "velero_repository_last_maintenance_timestamp_seconds",
            "The repository's last successful maintenance (status.lastMaintenanceTime).",
            REPOSITORY,
            known(_repository, lambda r: r.last_maintenance),
        ),
        gauge(
            "velero_repository_last_maintenance_result",
            "1 for the result of the repository's newest maintenance run (status.recentMaintenance, Velero "
            "1.16+), 0 for the other; absent before 1.16 and before the first run.",
            ("repository", "result"),
            _last_result,
        ),
    ),
    notes="`repository` is the BackupRepository's name (`<namespace>-<location>-<type>` from Velero 1.16, with "
    "a random suffix before). Velero does not maintain repositories of a ReadOnly location.",
)
