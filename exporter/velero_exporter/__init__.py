"""velero-exporter: Prometheus metrics that tell whether Velero backups meet their objectives."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("velero-exporter")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+source"
