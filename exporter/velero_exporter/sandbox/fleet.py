"""Monitoring for a fleet of clusters, with real Prometheus processes: one agent per cluster, scraping that
cluster's exporter and remote-writing its samples with the cluster's name as the `cluster` external label, into
one central Prometheus that receives remote write, evaluates the bundle's rules and notifies Alertmanager. It is
the shape of a central Prometheus, Thanos Receive or Mimir fed by many clusters (docs/deploy.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from velero_exporter.sandbox.monitoring import Process, running_prometheus

# The sandbox's two clusters: the seed's primary region and its DR region (their exporters' cluster.name).
PRIMARY = "kailash-prod-us-east-1"
DR = "kailash-dr-us-west-2"
DR_CONFIG = Path(__file__).with_name("demo-dr-config.yaml")


@dataclass(slots=True, frozen=True)
class Fleet:
    central: Process
    agents: Mapping[str, Process]  # by cluster name


@contextlib.asynccontextmanager
async def running_fleet(
    exporters: Mapping[str, str],
    rule_files: Sequence[Path],
    alertmanager_url: str | None,
    *,
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
) -> AsyncIterator[Fleet]:
    """The central Prometheus and an agent for each cluster's exporter (`exporters`: cluster name -> URL)."""
    async with contextlib.AsyncExitStack() as stack:
        central = await stack.enter_async_context(
            running_prometheus(
                [],
                rule_files,
                alertmanager_url,
                receiver=True,
                scrape_interval=scrape_interval,
                evaluation_interval=evaluation_interval,
            )
        )
        agents = {}
        for cluster, url in exporters.items():
            agents[cluster] = await stack.enter_async_context(
                running_prometheus(
                    [url.split("://", 1)[1]],
                    agent=True,
                    scrape_interval=scrape_interval,
                    external_labels={"cluster": cluster},
                    remote_write=f"{central.url}/api/v1/write",
                )
            )
        yield Fleet(central, agents)
