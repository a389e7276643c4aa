"""Status transitions, who may decide, request references and Kibana connector ids."""

from __future__ import annotations

import random
import re

import pytest

from bot.domain.enums import RequestStatus as S
from bot.domain.refs import (
    CONNECTOR_ID_MAX,
    REFERENCE,
    new_connector_id,
    new_reference,
    normalise_reference,
    slugify,
)
from bot.domain.rules import (
    FINAL_STATES,
    REFUSAL_TEXT,
    SECRET_HOLDING_STATES,
    TRANSITIONS,
    Refusal,
    can_transition,
    decision_refusal,
    sources_of,
)
from tests.fakes.kibana_schemas import connector_id_problem

KIBANA_ID = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
SUFFIX = re.compile(r"-[a-km-np-z2-9]{6}$")  # the id alphabet: no l, o, 0, 1

# --------------------------------------------------------------------------- transitions

ALLOWED = {
    (S.PENDING, S.APPROVED),
    (S.PENDING, S.REJECTED),
    (S.PENDING, S.CANCELLED),
    (S.PENDING, S.EXPIRED),
    (S.APPROVED, S.PROVISIONING),
    (S.APPROVED, S.DELIVERED),
    (S.PROVISIONING, S.PROVISIONED),
    (S.PROVISIONING, S.FAILED),
    (S.PROVISIONED, S.TESTED_OK),
    (S.PROVISIONED, S.TEST_FAILED),
    (S.PROVISIONING, S.COMPLETED),  # retire and extend requests: nothing to test
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_transition_table(current: S, target: S) -> None:
    assert can_transition(current, target) is ((current, target) in ALLOWED)


def test_final_states_have_no_way_out_and_the_others_do() -> None:
    assert {
        S.TESTED_OK,
        S.TEST_FAILED,
        S.REJECTED,
        S.CANCELLED,
        S.EXPIRED,
        S.FAILED,
        S.DELIVERED,
        S.COMPLETED,
    } == FINAL_STATES
    for state in S:
        has_exit = any(can_transition(state, target) for target in S)
        assert has_exit is (state not in FINAL_STATES), state
    assert set(TRANSITIONS) | FINAL_STATES == set(S)
    assert not set(TRANSITIONS) & FINAL_STATES


def test_every_state_is_reachable_from_pending() -> None:
    seen, frontier = {S.PENDING}, [S.PENDING]
    while frontier:
        for target in TRANSITIONS.get(frontier.pop(), frozenset()):
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(S)


def test_no_way_back() -> None:
    for state in S:
        assert not can_transition(state, state)
        assert not can_transition(state, S.PENDING)
    assert not can_transition(S.PENDING, S.PROVISIONING), "approval cannot be skipped"
    assert not can_transition(S.REJECTED, S.APPROVED)
    assert not can_transition(S.CANCELLED, S.APPROVED)
    assert not can_transition(S.APPROVED, S.REJECTED)


@pytest.mark.parametrize(
    ("target", "sources"),
    [
        (S.PENDING, set()),
        (S.APPROVED, {S.PENDING}),
        (S.REJECTED, {S.PENDING}),
        (S.PROVISIONING, {S.APPROVED}),
        (S.DELIVERED, {S.APPROVED}),
        (S.FAILED, {S.PROVISIONING}),
        (S.TESTED_OK, {S.PROVISIONED}),
        (S.TEST_FAILED, {S.PROVISIONED}),
        (S.COMPLETED, {S.PROVISIONING}),
    ],
)
def test_sources_of(target: S, sources: set[S]) -> None:
    assert sources_of(target) == sources


def test_secrets_are_only_held_before_the_connector_exists() -> None:
    assert {S.PENDING, S.APPROVED, S.PROVISIONING} == SECRET_HOLDING_STATES
    assert not SECRET_HOLDING_STATES & FINAL_STATES
    # Once a request leaves the secret-holding states it never comes back to them.
    for state in set(S) - SECRET_HOLDING_STATES:
        for target in SECRET_HOLDING_STATES:
            assert not can_transition(state, target)


# --------------------------------------------------------------------------- decisions

APPROVERS = frozenset({"U_APPROVER", "U_APPROVER_2"})


@pytest.mark.parametrize(
    ("actor", "requester", "approvers", "expected"),
    [
        ("U_APPROVER", "U_REQUESTER", APPROVERS, None),
        ("U_APPROVER_2", "U_REQUESTER", ["U_APPROVER", "U_APPROVER_2"], None),
        ("U_STRANGER", "U_REQUESTER", APPROVERS, Refusal.NOT_APPROVER),
        ("U_REQUESTER", "U_REQUESTER", APPROVERS, Refusal.NOT_APPROVER),
        ("U_APPROVER", "U_APPROVER", APPROVERS, Refusal.OWN_REQUEST),
        ("U_APPROVER", "U_APPROVER", {"U_APPROVER"}, Refusal.OWN_REQUEST),
        ("U_APPROVER", "U_REQUESTER", (), Refusal.NOT_APPROVER),
        ("u_approver", "U_REQUESTER", APPROVERS, Refusal.NOT_APPROVER),
        ("", "U_REQUESTER", APPROVERS, Refusal.NOT_APPROVER),
    ],
    ids=[
        "approver",
        "approver-list",
        "stranger",
        "requester-not-approver",
        "own-request",
        "only-approver-own-request",
        "no-approvers",
        "ids-are-case-sensitive",
        "empty-actor",
    ],
)
def test_decision_refusal(
    actor: str, requester: str, approvers: frozenset[str] | list[str], expected: Refusal | None
) -> None:
    assert decision_refusal(actor, requester, approvers) is expected


def test_every_refusal_has_a_text() -> None:
    assert set(REFUSAL_TEXT) == set(Refusal)
    assert "approvers" in REFUSAL_TEXT[Refusal.NOT_APPROVER]
    assert "your own request" in REFUSAL_TEXT[Refusal.OWN_REQUEST]


# --------------------------------------------------------------------------- connector ids

FULL_WIDTH_ABC123 = "\uff21\uff22\uff23\uff11\uff12\uff13"
ODD_NAMES = [
    "",
    " ",
    "\n\t ",
    "-",
    "---a---",
    "a--b",
    "Security team GPT-4.1",
    "Équipe sécurité \u2013 modèle général",
    "数据安全团队",
    "🚀🔥💯",
    "GPT 🚀 prod",
    "!!!@@@###$$$%%%^^^&&&***",
    "../../etc/passwd",
    "__proto__",
    "constructor",
    FULL_WIDTH_ABC123,
    "İstanbul ßtraße",
    "Zoë's “smart” LLM",
    "a" * 500,
    "Ünïcödé " * 40,
    "a" * 24 + " b",
    "x" * 25 + "-y",
    "0" * 30,
    "UPPER_CASE_NAME",
    "\u200b\u200d\ufeff",
    "name\x00with\x1fcontrols",
]


def _assert_kibana_safe(connector_id: str) -> None:
    assert KIBANA_ID.match(connector_id), connector_id
    assert len(connector_id) <= CONNECTOR_ID_MAX == 36
    assert connector_id.startswith("llm-")
    assert SUFFIX.search(connector_id), connector_id
    assert "--" not in connector_id
    assert connector_id_problem(connector_id) is None


@pytest.mark.parametrize("name", ODD_NAMES)
def test_connector_id_is_kibana_safe_for_odd_names(name: str) -> None:
    _assert_kibana_safe(new_connector_id(name))


def test_connector_id_is_kibana_safe_for_random_unicode() -> None:
    rng = random.Random(20240611)
    pools = [
        (0x20, 0x7E),  # ASCII
        (0xA0, 0x24F),  # Latin-1 and Latin Extended
        (0x370, 0x3FF),  # Greek
        (0x400, 0x4FF),  # Cyrillic
        (0x4E00, 0x4FFF),  # CJK
        (0x1F300, 0x1F64F),  # emoji
        (0xFF00, 0xFFEF),  # full-width forms
        (0x2000, 0x206F),  # punctuation, zero-width characters
    ]
    for _ in range(500):
        length = rng.randint(0, 120)
        name = "".join(chr(rng.randint(*rng.choice(pools))) for _ in range(length))
        _assert_kibana_safe(new_connector_id(name))


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("Security team GPT-4.1", r"^llm-security-team-gpt-4-1-[a-z2-9]{6}$"),
        ("Équipe sécurité", r"^llm-equipe-securite-[a-z2-9]{6}$"),
        (FULL_WIDTH_ABC123, r"^llm-abc123-[a-z2-9]{6}$"),
        ("数据安全团队", r"^llm-[a-z2-9]{6}$"),
        ("🚀🔥💯", r"^llm-[a-z2-9]{6}$"),
        ("", r"^llm-[a-z2-9]{6}$"),
        ("a" * 500, r"^llm-a{25}-[a-z2-9]{6}$"),
        ("a" * 24 + " b", r"^llm-a{24}-[a-z2-9]{6}$"),
    ],
)
def test_connector_id_keeps_a_readable_slug(name: str, pattern: str) -> None:
    assert re.match(pattern, new_connector_id(name))


def test_long_names_use_the_whole_36_characters() -> None:
    assert len(new_connector_id("a" * 100)) == 36


def test_connector_ids_are_unique_for_the_same_name() -> None:
    ids = {new_connector_id("Security team GPT-4.1") for _ in range(50)}
    assert len(ids) == 50


@pytest.mark.parametrize(
    ("text", "max_length", "slug"),
    [
        ("Hello, World!", 50, "hello-world"),
        ("  --Hello--  ", 50, "hello"),
        ("Crème brûlée", 50, "creme-brulee"),
        ("abc def", 4, "abc"),
        ("abcdef", 3, "abc"),
        ("🚀", 10, ""),
    ],
)
def test_slugify(text: str, max_length: int, slug: str) -> None:
    assert slugify(text, max_length=max_length) == slug


# --------------------------------------------------------------------------- references


def test_new_reference_shape() -> None:
    for _ in range(200):
        reference = new_reference()
        assert REFERENCE.match(reference)
        assert not set(reference[4:]) & set("ILOU"), "ambiguous letters are never issued"
        assert normalise_reference(reference) == reference
        assert normalise_reference(reference.lower()) == reference


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("REQ-7K3M9Q", "REQ-7K3M9Q"),
        ("req-7k3m9q", "REQ-7K3M9Q"),
        ("  Req-7K3m9Q \n", "REQ-7K3M9Q"),
        ("7K3M9Q", "REQ-7K3M9Q"),
        (" 7k3m9q ", "REQ-7K3M9Q"),
        ("REQ-7K3M9", None),
        ("REQ-7K3M9QX", None),
        ("7K3M9", None),
        ("REQ-7K3-9Q", None),
        ("REQ-7K3M9Q extra", None),
        ("REQ 7K3M9Q", None),
        ("", None),
        ("   ", None),
        ("REQ-", None),
        ("REQ-ÉÉÉÉÉÉ", None),
    ],
)
def test_normalise_reference(text: str, expected: str | None) -> None:
    assert normalise_reference(text) == expected
