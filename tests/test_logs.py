"""The one logfmt writer: what a peer sends (an error's text, a kubeconfig path) stays one value on one line."""

from __future__ import annotations

import logging

import pytest

from velero_exporter.logs import LogfmtFormatter, logfmt_value


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("forbidden", "forbidden"),
        ("", '""'),
        ("no route to host", '"no route to host"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("a=b", '"a=b"'),
        ("line\nbreak", '"line\\nbreak"'),
        ("C:\\path x", '"C:\\\\path x"'),
    ],
)
def test_values_are_bare_when_they_can_be_and_escaped_when_quoted(text: str, written: str) -> None:
    assert logfmt_value(text) == written


def test_a_message_carrying_a_quoted_peer_value_stays_one_line() -> None:
    detail = logfmt_value('injected "fault"\nsecond line')
    record = logging.LogRecord("velero_exporter.kube", logging.WARNING, "", 0, "event=x detail=%s", (detail,), None)
    line = LogfmtFormatter().format(record)
    assert "\n" not in line
    assert line.endswith('msg="event=x detail=\\"injected \\\\\\"fault\\\\\\"\\\\nsecond line\\""')
