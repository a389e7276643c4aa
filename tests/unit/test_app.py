"""The Bolt app is built without the warnings Bolt would print at every start."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.runtime import build_runtime
from tests.fakes.kibana import FakeKibana
from tests.fakes.slack_api import FakeSlack
from tests.harness import BOT_TOKEN, make_settings


def test_building_the_app_does_not_warn_that_the_token_is_unused(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    slack: FakeSlack,
    kibana: FakeKibana,
    tmp_path: Path,
) -> None:
    # As `python -m bot` runs: the token is in the environment, where Bolt looks for it too.
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    settings = make_settings(f"sqlite:///{tmp_path / 'bot.sqlite3'}", slack, kibana)
    with caplog.at_level(logging.DEBUG):
        runtime = build_runtime(settings, [Fernet.generate_key()])
    try:
        messages = [record.getMessage() for record in caplog.records]
        assert not [m for m in messages if "will be unused" in m], messages
        # Other Bolt warnings still get through: the filter is gone once the app is built.
        logging.getLogger("slack_bolt").warning(
            "As you gave `client` as well, `token` will be unused."
        )
        assert caplog.records[-1].getMessage().endswith("will be unused.")
    finally:
        runtime.close()
