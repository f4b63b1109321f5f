"""What each dashboard panel must show in a scenario's cluster, from what the scenario holds (its World: Velero's
objects, the buckets and snapshots, the config) and declares (its alerts), never from the exporter's output.

A Truth names the labels that identify a series of a panel query's answer and the value of each; `check` compares
an answer (tests/scenario_run.py records every panel query's, per cluster) with it. The facts below read the World
the way Velero and S3 define things (a backup's tier is its tier label, its folder is in its location's bucket,
the newest folder is the one written last), independently of the exporter's model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from velero_exporter.config.file import parse_config
from velero_exporter.config.settings import ClusterSettings, Config, Tier
from velero_exporter.sandbox.objects import Obj, name_of
from velero_exporter.sandbox.scenario import Scenario
from velero_exporter.sandbox.world import World
from velero_exporter.sources.parsing import parse_timestamp
from velero_exporter.state.vocabulary import BACKUP_NAME_LABEL
from velero_exporter.velero.duration import go_duration_seconds
from velero_exporter.velero.labels import label_value

Answer = list[tuple[dict[str, str], float]]
ANY = None  # a value not checked (a rate, a duration of the scrape): the series must be there, with its labels
FINISHED = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")
PHASE_CODE = {phase: i for i, phase in enumerate(FINISHED, 1)}  # the dashboards' phase_code
UNFINISHED = (
    "New",
    "Queued",
    "ReadyToStart",
    "InProgress",
    "WaitingForPluginOperations",
    "WaitingForPluginOperationsPartiallyFailed",
    "Finalizing",
    "FinalizingPartiallyFailed",
)
SCHEDULE_LABEL = "velero.io/schedule-name"
PLURALS = {
    "Backup": "backups",
    "BackupStorageLocation": "backupstoragelocations",
    "Restore": "restores",
    "Schedule": "schedules",
    "VolumeSnapshotLocation": "volumesnapshotlocations",
    "PodVolumeBackup": "podvolumebackups",
    "PodVolumeRestore": "podvolumerestores",
    "DataUpload": "datauploads",
    "DataDownload": "datadownloads",
    "BackupRepository": "backuprepositories",
    "Namespace": "namespaces",
    "Pod": "pods",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "PersistentVolume": "persistentvolumes",
    "StorageClass": "storageclasses",
    "ConfigMap": "configmaps",
}
# How each kind of volume data operation saves a backup's volumes (the exporter's `method`).
BACKUP_OPERATION_METHODS = {"PodVolumeBackup": "fs-backup", "DataUpload": "data-mover"}
UNASSIGNED = "unassigned"
AGE_SLACK = 10.0  # ages: the recording rules ran up to a few seconds before the panels were asked


Value = float | tuple[float, float] | None  # exact (within the truth's `within`), a range, or ANY


def exact(value: Value) -> float | None:
    """A value of a truth built from exact values (or ANY): a range here is a mistake in that truth."""
    assert not isinstance(value, tuple), f"a range where an exact value was built: {value}"
    return value


@dataclass(frozen=True)
class Truth:
    """Series identified by the `keys` labels, each with its value: exact within `within`, in a (low, high)
    range, or ANY (not checked)."""

    keys: tuple[str, ...]
    values: Mapping[tuple[str, ...], Value]
    within: float = 0.0

    def check(self, answer: Answer) -> list[str]:
        got: dict[tuple[str, ...], float] = {}
        for labels, value in answer:
            key = tuple(labels.get(k, "") for k in self.keys)  # Prometheus drops an empty label
            if key in got:
                return [f"two series for {dict(zip(self.keys, key, strict=True))}"]
            got[key] = value
        problems = []
        if got.keys() != self.values.keys():
            missing, extra = sorted(self.values.keys() - got.keys()), sorted(got.keys() - self.values.keys())
            problems.append(f"series {self.keys}: missing {missing}, unexpected {extra}")
        for key in sorted(got.keys() & self.values.keys()):
            want = self.values[key]
            low, high = want if isinstance(want, tuple) else (want, want)
            if low is not None and high is not None and not low - self.within <= got[key] <= high + self.within:
                problems.append(f"{dict(zip(self.keys, key, strict=True))}: {got[key]:g}, not {want}")
        return problems


EMPTY = Truth((), {})


def one(value: Value, within: float = 0.0) -> Truth:
    """A single series without labels (a stat)."""
    return Truth((), {(): value}, within)


def per(keys: str, values: Mapping[Any, Value], within: float = 0.0) -> Truth:
    """Series by the comma-separated labels; a single label's values may be keyed by the plain string."""
    names = tuple(k.strip() for k in keys.split(","))
    return Truth(names, {k if isinstance(k, tuple) else (k,): v for k, v in values.items()}, within)


def ages(keys: str, times: Mapping[Any, float], at: float) -> Truth:
    return per(keys, {k: at - t for k, t in times.items()}, AGE_SLACK)


# --- facts of a cluster --------------------------------------------------------------------------------------------


def ts(value: Any) -> float | None:
    return parse_timestamp(value) if isinstance(value, str) else None


@dataclass
class Facts:
    """What a scenario's cluster holds when the panels are asked (`at`), and beside it every cluster that shares
    its Prometheus (`fleet`, by name: a DR cluster's primary among them)."""

    scenario: Scenario
    world: World
    at: float
    fleet: Mapping[str, Facts] = field(default_factory=dict)
    config: Config = field(init=False)

    def __post_init__(self) -> None:
        self.config = parse_config(dict(self.world.config), self.scenario.name)

    @property
    def reporting(self) -> bool:
        """Its exporter runs: Prometheus scrapes its series."""
        return self.world.exporter_up

    # -- the fleet

    @property
    def dr(self) -> ClusterSettings | None:
        """Its identity, if its exporter says it is a DR cluster."""
        cluster = self.config.cluster
        return cluster if cluster is not None and cluster.role == "dr" else None

    @property
    def dr_tiers(self) -> tuple[str, ...]:
        return self.dr.dr_tier_names(self.config.tier_names) if self.dr is not None else ()

    @property
    def primary(self) -> Facts | None:
        """The reporting cluster whose exporter has the name this DR cluster's dr_of gives."""
        if self.dr is None:
            return None
        for other in self.fleet.values():
            if other.reporting and other.config.cluster is not None and other.config.cluster.name == self.dr.dr_of:
                return other
        return None

    def point(self, tier: str) -> float | None:
        """The start of the tier's newest recovery point."""
        found = self.recovery_point(tier)
        return started(found) if found is not None else None

    def lag(self, tier: str) -> float | None:
        """How far this DR cluster's newest point of the tier is behind its primary's, where both have one."""
        primary = self.primary
        theirs, ours = (primary.point(tier) if primary else None), self.point(tier)
        return theirs - ours if theirs is not None and ours is not None else None

    def behind(self, tier: str) -> bool:
        """VeleroDRClusterBehind's two lag cases: past the RPO, or no point while the primary has one."""
        primary = self.primary
        if primary is None or primary.point(tier) is None:
            return False
        lag = self.lag(tier)
        return lag is None or lag > self.objective("rpo")[tier]

    # -- the config and the declared alerts

    @property
    def tiers(self) -> list[str]:
        return list(self.config.tier_names)

    def objective(self, what: str) -> dict[str, float]:
        return {t.name: float(getattr(t, f"{what}_seconds")) for t in self.config.tiers}

    def alerts(self, name: str, **labels: str) -> list[dict[str, str]]:
        found = []
        for alert in self.scenario.alerts():
            have = dict(alert.labels)
            if alert.name == name and all(have.get(k) == v for k, v in labels.items()):
                found.append(have)
        return found

    # -- Velero's objects

    def objects(self, kind: str) -> list[Obj]:
        """The objects of the kind the exporter can see: none of a resource RBAC forbids it."""
        if PLURALS[kind] in self.world.forbidden:
            return []
        return [obj for (k, _), obj in sorted(self.world.objects.items()) if k == kind]

    @property
    def backups(self) -> list[Obj]:
        return self.objects("Backup")

    def tier(self, backup: Obj) -> str:
        label = backup["metadata"].get("labels", {}).get(self.config.tier_label)
        schedule = backup["metadata"].get("labels", {}).get(SCHEDULE_LABEL)
        for tier in self.config.tiers:
            if label == tier.name or schedule in _schedule_names(tier):
                return tier.name
        return UNASSIGNED

    def backup_of(self, restore: Obj) -> Obj | None:
        return self.world.objects.get(("Backup", restore["spec"]["backupName"]))

    @property
    def schedules(self) -> dict[str, Obj]:
        return {name_of(s): s for s in self.objects("Schedule")}

    def schedule_tier(self, name: str) -> str:
        for tier in self.config.tiers:
            if name in _schedule_names(tier):
                return tier.name
        schedule = self.schedules.get(name)
        labels = schedule["spec"]["template"].get("metadata", {}).get("labels", {}) if schedule else {}
        return str(labels.get(self.config.tier_label, UNASSIGNED))

    def runs(self, schedule: str) -> list[Obj]:
        return [b for b in self.backups if b["metadata"].get("labels", {}).get(SCHEDULE_LABEL) == schedule]

    def newest_finished(self, schedule: str) -> Obj | None:
        """The schedule's backup that finished last (by completion, then start)."""
        return next(iter(self.finished(schedule)), None)

    def finished(self, schedule: str) -> list[Obj]:
        """The schedule's finished backups, the one that finished last first."""
        done = [b for b in self.runs(schedule) if phase(b) in FINISHED]
        return sorted(done, key=lambda b: (ts(b["status"].get("completionTimestamp")) or 0, started(b)), reverse=True)

    def operations_of(self, backup: Obj) -> list[Obj]:
        """The backup's PodVolumeBackups and DataUploads (they name it in Velero's backup-name label)."""
        return [
            op
            for kind in BACKUP_OPERATION_METHODS
            for op in self.objects(kind)
            if op["metadata"].get("labels", {}).get(BACKUP_NAME_LABEL) == label_value(name_of(backup))
        ]

    def recovery_point(self, tier: str) -> Obj | None:
        """The tier's newest recovery point: the newest Completed backup (or PartiallyFailed where accepted)."""
        accepted = {"Completed"}
        settings = self.config.tier(tier)
        if settings is not None and settings.accept_partially_failed:
            accepted.add("PartiallyFailed")
        good = [b for b in self.backups if self.tier(b) == tier and phase(b) in accepted]
        return max(good, key=started, default=None)

    # -- restores

    def restore_tier(self, restore: Obj) -> str:
        backup = self.backup_of(restore)
        return self.tier(backup) if backup is not None else UNASSIGNED

    def restore_schedule(self, restore: Obj) -> str:
        backup = self.backup_of(restore)
        return str(backup["metadata"].get("labels", {}).get(SCHEDULE_LABEL, "")) if backup else ""

    def newest_restores(self) -> dict[tuple[str, str], Obj]:
        """The newest finished restore per (tier, schedule)."""
        out: dict[tuple[str, str], Obj] = {}
        for restore in self.objects("Restore"):
            if phase(restore) not in FINISHED:
                continue
            key = (self.restore_tier(restore), self.restore_schedule(restore))
            if key not in out or finished_at(restore) > finished_at(out[key]):
                out[key] = restore
        return out

    def last_good_restore(self) -> dict[str, float]:
        """Per tier, the completion of its newest Completed restore."""
        out: dict[str, float] = {}
        for restore in self.objects("Restore"):
            if phase(restore) == "Completed":
                tier = self.restore_tier(restore)
                out[tier] = max(out.get(tier, 0.0), finished_at(restore))
        return out

    # -- AWS

    @property
    def aws(self) -> bool:
        return self.config.aws.enabled

    def measured_buckets(self) -> dict[str, tuple[str, str, str]]:
        """location name -> (bucket, region, prefix) of every bucket the exporter measures that exists."""
        out: dict[str, tuple[str, str, str]] = {}
        for bsl in self.objects("BackupStorageLocation"):
            storage = bsl["spec"]["objectStorage"]
            if bsl["spec"].get("provider") == "aws" and storage["bucket"] in self.world.buckets:
                out[name_of(bsl)] = (storage["bucket"], bsl["spec"]["config"]["region"], storage.get("prefix", ""))
        for extra in self.config.aws.extra_buckets:
            if extra.bucket in self.world.buckets:
                out[extra.name] = (extra.bucket, extra.region, extra.prefix)
        return out


def _schedule_names(tier: Tier) -> set[str]:
    return {schedule.name for schedule in tier.schedules}


def phase(obj: Obj) -> str:
    return str(obj.get("status", {}).get("phase", "New"))


def started(obj: Obj) -> float:
    return ts(obj.get("status", {}).get("startTimestamp")) or 0.0


def finished_at(obj: Obj) -> float:
    return ts(obj.get("status", {}).get("completionTimestamp")) or 0.0


def expiration(backup: Obj) -> float | None:
    return ts(backup.get("status", {}).get("expiration"))


def ttl(backup: Obj) -> float:
    return go_duration_seconds(backup["spec"].get("ttl", "0s")) or 0.0


TruthOf = Callable[[Facts], Truth | None]


def by_tier(values: Callable[[str], float | None], tiers: Iterable[str]) -> dict[str, float]:
    return {t: v for t in tiers if (v := values(t)) is not None}
