"""Benchmarks of velero-exporter against the sandbox (`python -m benchmarks.run`); see docs/performance.md."""
