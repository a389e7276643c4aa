"""Which back-end: stack versions read, and the choice over versions x configured x setting."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.domain import backends
from bot.domain.backends import (
    Backend,
    BackendChoice,
    BackendSetting,
    StackVersion,
    choose_backend,
)

CONN, INF = Backend.CONNECTOR, Backend.INFERENCE
AUTO, FORCE_C, FORCE_I = BackendSetting.AUTO, BackendSetting.CONNECTOR, BackendSetting.INFERENCE
SERVERLESS = StackVersion(serverless=True)


def v(number: str) -> StackVersion:
    return StackVersion.parse(number)


# --------------------------------------------------------------------------- StackVersion


@pytest.mark.parametrize(
    ("number", "flavor", "expected", "text"),
    [
        ("9.4.0", "traditional", StackVersion(9, 4, 0), "9.4.0"),
        ("9.4.0-SNAPSHOT", None, StackVersion(9, 4, 0, "SNAPSHOT"), "9.4.0-SNAPSHOT"),
        ("8.19.3", "default", StackVersion(8, 19, 3), "8.19.3"),
        ("9.1.0-beta1", None, StackVersion(9, 1, 0, "beta1"), "9.1.0-beta1"),
        ("7.17", None, StackVersion(7, 17, 0), "7.17.0"),
        (" 9.5.1\n", None, StackVersion(9, 5, 1), "9.5.1"),
        # Serverless: the number is "the next target release", not meaningful; or absent.
        ("8.11.0", "serverless", SERVERLESS, "serverless"),
        (None, "serverless", SERVERLESS, "serverless"),
        ("", "Serverless", SERVERLESS, "serverless"),
    ],
)
def test_stack_versions_are_read(
    number: str | None, flavor: str | None, expected: StackVersion, text: str
) -> None:
    version = StackVersion.parse(number, build_flavor=flavor)
    assert version == expected
    assert str(version) == text


@pytest.mark.parametrize("number", [None, "", "nine", "9", "9.x", "v9.4.0", "9.4.0 beta", "9..4"])
def test_an_unreadable_version_is_refused(number: str | None) -> None:
    with pytest.raises(ValueError, match="not a stack version"):
        StackVersion.parse(number, build_flavor="traditional")


@pytest.mark.parametrize(
    ("version", "release", "expected"),
    [
        (v("9.4.0"), (9, 4), True),
        (v("9.4.0-SNAPSHOT"), (9, 4), True),  # a snapshot of 9.4 has 9.4's features
        (v("9.3.9"), (9, 4), False),
        (v("10.0.0"), (9, 4), True),
        (v("8.19.3"), (9, 4), False),
        (SERVERLESS, (99, 0), True),
    ],
)
def test_at_least(version: StackVersion, release: tuple[int, int], expected: bool) -> None:
    assert version.at_least(*release) is expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (v("9.3.2"), v("9.5.1"), True),
        (v("9.5.1"), v("9.3.2"), False),
        (v("9.4.0"), v("9.4.0-SNAPSHOT"), False),
        (v("9.4.0-SNAPSHOT"), v("9.4.0"), False),
        (v("9.9.9"), SERVERLESS, True),
        (SERVERLESS, v("9.9.9"), False),
        (SERVERLESS, SERVERLESS, False),
    ],
)
def test_is_older_than(a: StackVersion, b: StackVersion, expected: bool) -> None:
    assert a.is_older_than(b) is expected


# --------------------------------------------------------------------------- the matrix

TIERS = {
    "7.x": v("7.17.9"),
    "8.x": v("8.19.3"),
    "9.0": v("9.0.8"),
    "9.3": v("9.3.4"),
    "9.4": v("9.4.0"),
    "9.4-snapshot": v("9.4.0-SNAPSHOT"),
    "9.6": v("9.6.1"),
    "serverless": SERVERLESS,
}
# With Elasticsearch configured and the same version on both sides, in auto mode.
AUTO_EXPECTED = {
    "7.x": CONN,
    "8.x": CONN,
    "9.0": CONN,
    "9.3": CONN,
    "9.4": INF,
    "9.4-snapshot": INF,
    "9.6": INF,
    "serverless": INF,
}


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("configured", [True, False])
@pytest.mark.parametrize("setting", list(BackendSetting))
def test_the_matrix(tier: str, configured: bool, setting: BackendSetting) -> None:
    version = TIERS[tier]
    choice = choose_backend(setting, version, version if configured else None, configured)
    if setting is FORCE_C:
        expected = CONN
    elif not configured:
        expected = CONN  # nothing to create endpoints in
    elif setting is FORCE_I:
        expected = INF
    else:
        expected = AUTO_EXPECTED[tier]
    assert choice.backend is expected, choice
    assert choice.reason
    assert "\n" not in choice.reason
    assert len(choice.reason) <= 200
    if setting is not AUTO and configured:
        assert f"PROVISION_BACKEND={setting}" in choice.reason
    assert choice.stack == version


@pytest.mark.parametrize(
    ("setting", "kibana", "elasticsearch", "configured", "expected"),
    [
        (
            AUTO,
            v("9.5.1"),
            v("9.5.1"),
            True,
            BackendChoice(
                INF,
                "Kibana 9.5.1 with Elasticsearch configured: inference endpoints, the way "
                "Kibana 9.4+ connects AI features to LLMs",
                v("9.5.1"),
            ),
        ),
        (
            AUTO,
            v("8.17.0"),
            v("8.17.0"),
            True,
            BackendChoice(
                CONN, "Kibana 8.17.0: connectors (inference endpoints need 9.4+)", v("8.17.0")
            ),
        ),
        (
            AUTO,
            v("9.3.4"),
            v("9.3.4"),
            True,
            BackendChoice(
                CONN, "Kibana 9.3.4: connectors (inference endpoints need 9.4+)", v("9.3.4")
            ),
        ),
        (
            AUTO,
            v("7.17.9"),
            v("7.17.9"),
            True,
            BackendChoice(
                CONN,
                "Kibana 7.17.9: connectors (inference endpoints need 9.4+, and LLM connector "
                "types need Kibana 8.8+)",
                v("7.17.9"),
            ),
        ),
        (
            AUTO,
            SERVERLESS,
            SERVERLESS,
            True,
            BackendChoice(
                INF,
                "Kibana serverless with Elasticsearch configured: inference endpoints, the way "
                "Kibana 9.4+ connects AI features to LLMs",
                SERVERLESS,
            ),
        ),
        (
            AUTO,
            v("9.6.0"),
            None,
            False,
            BackendChoice(
                CONN,
                "Kibana 9.6.0, Elasticsearch not configured (no ELASTICSEARCH_URL): connectors",
                v("9.6.0"),
            ),
        ),
        (
            AUTO,
            None,
            None,
            False,
            BackendChoice(CONN, "Elasticsearch not configured (no ELASTICSEARCH_URL): connectors"),
        ),
        (
            AUTO,
            None,
            None,
            True,
            BackendChoice(CONN, "stack version unknown (Kibana did not answer): connectors"),
        ),
        # Kibana decides what AI features see: a 9.5 Elasticsearch alone is not enough.
        (
            AUTO,
            None,
            v("9.5.0"),
            True,
            BackendChoice(CONN, "stack version unknown (Kibana did not answer): connectors"),
        ),
        # A serverless project's Kibana is serverless too.
        (
            AUTO,
            None,
            SERVERLESS,
            True,
            BackendChoice(
                INF,
                "Elasticsearch serverless (Kibana did not answer) with Elasticsearch configured: "
                "inference endpoints, the way Kibana 9.4+ connects AI features to LLMs",
                SERVERLESS,
            ),
        ),
        (
            AUTO,
            v("9.4.2"),
            None,
            True,
            BackendChoice(
                INF,
                "Kibana 9.4.2 (Elasticsearch did not answer) with Elasticsearch configured: "
                "inference endpoints, the way Kibana 9.4+ connects AI features to LLMs",
                v("9.4.2"),
            ),
        ),
        (
            FORCE_C,
            v("9.6.0"),
            v("9.6.0"),
            True,
            BackendChoice(
                CONN,
                "forced by PROVISION_BACKEND=connector (Kibana 9.6.0 deprecates the LLM "
                "connector types)",
                v("9.6.0"),
            ),
        ),
        (
            FORCE_C,
            v("9.4.0"),
            v("9.4.0"),
            True,
            BackendChoice(CONN, "forced by PROVISION_BACKEND=connector", v("9.4.0")),
        ),
        (
            FORCE_I,
            v("9.2.1"),
            v("9.2.1"),
            True,
            BackendChoice(
                INF,
                "forced by PROVISION_BACKEND=inference (Kibana 9.2.1: AI features list "
                "inference endpoints only from 9.4+)",
                v("9.2.1"),
            ),
        ),
        (
            FORCE_I,
            None,
            None,
            True,
            BackendChoice(INF, "forced by PROVISION_BACKEND=inference"),
        ),
        (
            FORCE_I,
            v("9.5.0"),
            None,
            False,
            BackendChoice(
                CONN,
                "PROVISION_BACKEND=inference but Elasticsearch not configured (no "
                "ELASTICSEARCH_URL): connectors",
                v("9.5.0"),
            ),
        ),
    ],
)
def test_each_choice_and_its_reason(
    setting: BackendSetting,
    kibana: StackVersion | None,
    elasticsearch: StackVersion | None,
    configured: bool,
    expected: BackendChoice,
) -> None:
    assert choose_backend(setting, kibana, elasticsearch, configured) == expected


@pytest.mark.parametrize(
    ("kibana", "elasticsearch", "expected"),
    [
        (
            v("9.5.1"),
            v("9.3.2"),
            BackendChoice(
                CONN,
                "Kibana 9.5.1 and Elasticsearch 9.3.2 disagree, going by the lower "
                "(Elasticsearch 9.3.2): connectors (inference endpoints need 9.4+)",
                v("9.3.2"),
            ),
        ),
        (
            v("9.3.0"),
            v("9.4.1"),
            BackendChoice(
                CONN,
                "Kibana 9.3.0 and Elasticsearch 9.4.1 disagree, going by the lower "
                "(Kibana 9.3.0): connectors (inference endpoints need 9.4+)",
                v("9.3.0"),
            ),
        ),
        (
            v("9.4.1"),
            v("9.4.0"),
            BackendChoice(
                INF,
                "Kibana 9.4.1 and Elasticsearch 9.4.0 disagree, going by the lower "
                "(Elasticsearch 9.4.0) with Elasticsearch configured: inference endpoints, "
                "the way Kibana 9.4+ connects AI features to LLMs",
                v("9.4.0"),
            ),
        ),
        (
            SERVERLESS,
            v("9.3.0"),
            BackendChoice(
                CONN,
                "Kibana serverless and Elasticsearch 9.3.0 disagree, going by the lower "
                "(Elasticsearch 9.3.0): connectors (inference endpoints need 9.4+)",
                v("9.3.0"),
            ),
        ),
        # Same release, one a snapshot build: not a disagreement worth a sentence.
        (
            v("9.4.0-SNAPSHOT"),
            v("9.4.0"),
            BackendChoice(
                INF,
                "Kibana 9.4.0-SNAPSHOT with Elasticsearch configured: inference endpoints, the "
                "way Kibana 9.4+ connects AI features to LLMs",
                v("9.4.0-SNAPSHOT"),
            ),
        ),
    ],
)
def test_disagreeing_versions_go_by_the_lower_and_say_so(
    kibana: StackVersion, elasticsearch: StackVersion, expected: BackendChoice
) -> None:
    assert choose_backend(AUTO, kibana, elasticsearch, True) == expected


def test_a_forced_inference_on_disagreeing_versions_names_the_lower() -> None:
    choice = choose_backend(FORCE_I, v("9.5.0"), v("9.3.0"), True)
    assert choice.backend is INF
    assert "going by the lower (Elasticsearch 9.3.0)" in choice.reason
    assert "only from 9.4+" in choice.reason


@pytest.mark.parametrize("setting", ["auto", "connector", "inference"])
def test_the_setting_may_be_given_as_its_string(setting: str) -> None:
    assert choose_backend(setting, v("9.5.0"), v("9.5.0"), True) == choose_backend(
        BackendSetting(setting), v("9.5.0"), v("9.5.0"), True
    )


def test_an_unknown_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="'both' is not a valid BackendSetting"):
        choose_backend("both", v("9.5.0"), v("9.5.0"), True)


def test_the_module_is_pure() -> None:
    tree = ast.parse(Path(backends.__file__).read_text(encoding="utf-8"))
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
        )
    }
    assert imported <= {"__future__", "re", "dataclasses", "enum"}, imported
