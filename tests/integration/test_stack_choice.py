"""The running bot's quick Kibana client and per-process memory choose the back-end."""

from __future__ import annotations

from bot.domain.backends import Backend, BackendSetting, StackVersion
from bot.services.stack import choose_provisioning_backend
from tests.harness import BotHarness


def test_the_runtime_remembers_the_choice_for_the_process(bot: BotHarness) -> None:
    bot.kibana.version = "9.6.0"
    calls: list[str] = []

    def elasticsearch() -> StackVersion:
        calls.append("GET /")
        return StackVersion.parse("9.6.0", build_flavor="default")

    deps = bot.deps
    assert bot.settings.provision_backend is BackendSetting.AUTO
    choices = [
        choose_provisioning_backend(
            deps.default_clients.kibana_quick,
            setting=bot.settings.provision_backend,
            elasticsearch=elasticsearch,
            cache=deps.default_clients.backend_choice,
        )
        for _ in range(3)
    ]
    assert choices[0].backend is Backend.INFERENCE
    assert choices[0].stack == StackVersion(9, 6, 0)
    assert choices == [choices[0]] * 3
    assert len(bot.kibana.requests_to("GET", "/api/status")) == 1
    assert calls == ["GET /"]
