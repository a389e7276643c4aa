"""The policy file reader: a sound file becomes a PolicyDocument; every mistake is reported at
once, each with its line and path."""

from __future__ import annotations

from datetime import timedelta
from textwrap import dedent

import pytest

from bot.domain.policy.document import PolicyFileError, parse_policy, read_policy
from bot.domain.policy.model import AutoApprove, Lifecycle, Match, Reminders

PRODUCT_EXAMPLE = dedent(
    """\
    targets:
      prod:
        kibana_url: https://kibana.prod.example.com
        kibana_api_key_env: KIBANA_PROD_API_KEY
        elasticsearch_url: https://es.prod.example.com
        elasticsearch_api_key_env: ES_PROD_API_KEY
        spaces: [default, security]
        label: Production
      staging:
        kibana_url: https://kibana.staging.example.com/
    rules:
      - match: {target: prod, provider: lm_studio}
        allow: false
        message: "LM Studio is for lab spaces; ask in #ai-platform."
      - match: {target: prod, space: security, provider: [openai, azure_openai, bedrock, vertex], model: "gpt-4*"}
        approvers: [U012ABCDEF, S0123GROUP]
        approvals: 2
      - match: {target: staging, provider: [vllm, lm_studio], requester: [S0LABTEAM]}
        auto_approve: {max_per_requester_per_day: 3}
      - match: {}
        approvers: [U012ABCDEF]
        break_glass: true
        reminders: {after: 30s}
        lifecycle: {failing_after: 5}
    reminders: {after: 4h, repeat: 24h, escalate_after: 48h, escalate_to: [U0ESCALATE], expire_after: 7d}
    lifecycle: {retest_every: 24h, reconcile_every: 1h, failing_after: 2, max_lifetime_days: null}
    """  # noqa: E501 - the product brief's example (its message quoted: " #" starts a comment)
)


def problems_of(text: str) -> list[str]:
    with pytest.raises(PolicyFileError) as caught:
        parse_policy(dedent(text), source="policy.yml")
    return caught.value.problems


def test_the_product_example_reads_into_its_document() -> None:
    parsed = read_policy(PRODUCT_EXAMPLE, source="policy.yml")
    policy = parsed.document
    assert parsed.warnings == ()
    assert policy.source == "policy.yml"
    prod, staging = policy.targets
    assert policy.default_target is prod
    assert prod.kibana_api_key_env == "KIBANA_PROD_API_KEY"
    assert prod.elasticsearch_url == "https://es.prod.example.com"
    assert prod.spaces == frozenset({"default", "security"})
    assert prod.label == "Production"
    assert staging.kibana_url == "https://kibana.staging.example.com"  # trailing / dropped
    assert staging.spaces is None
    assert staging.kibana_api_key_env is None
    deny, two_of, auto, fallback = policy.rules
    assert not deny.allow
    assert deny.message == "LM Studio is for lab spaces; ask in #ai-platform."
    assert deny.match == Match(targets=frozenset({"prod"}), providers=frozenset({"lm_studio"}))
    assert two_of.approvers == ("U012ABCDEF", "S0123GROUP")
    assert two_of.approvals == 2
    assert two_of.match.models == ("gpt-4*",)
    assert two_of.match.spaces == frozenset({"security"})
    assert auto.auto_approve == AutoApprove(max_per_requester_per_day=3)
    assert auto.match.requesters == frozenset({"S0LABTEAM"})
    assert fallback.match == Match()
    assert fallback.break_glass
    assert policy.reminders == Reminders(
        after=timedelta(hours=4),
        repeat=timedelta(hours=24),
        escalate_after=timedelta(hours=48),
        escalate_to=("U0ESCALATE",),
        expire_after=timedelta(days=7),
    )
    assert policy.lifecycle == Lifecycle(
        retest_every=timedelta(hours=24),
        reconcile_every=timedelta(hours=1),
        failing_after=2,
        max_lifetime_days=None,
    )
    # A rule's own reminders and lifecycle override the top-level ones key by key.
    assert policy.reminders_for(fallback) == Reminders(
        after=timedelta(seconds=30),
        repeat=timedelta(hours=24),
        escalate_after=timedelta(hours=48),
        escalate_to=("U0ESCALATE",),
        expire_after=timedelta(days=7),
    )
    assert policy.lifecycle_for(fallback).failing_after == 5
    assert policy.lifecycle_for(fallback).reconcile_every == timedelta(hours=1)
    assert policy.reminders_for(two_of) == policy.reminders


def test_the_issues_example_names_file_line_and_path() -> None:
    problems = problems_of(
        """\
        targets:
          prod: {kibana_url: https://kibana.example.com}
        rules:
          - match: {provider: lm_studio}
            allow: false
          - match: {provider: vllm}
            auto_approve: {max_per_requester_per_day: 1}
          - match: {}
            approvers: [alice, U012ABCDEF]
        """
    )
    assert problems == [
        'policy.yml:9: rules[2].approvers[0]: "alice" is not a Slack user or group id '
        "(U…, W… or S…)"
    ]


def test_many_mistakes_are_all_reported_at_once_each_with_its_line_and_path() -> None:
    problems = problems_of(
        """\
        targets:
          Prod:
            kibana_url: https://user:hunter2@kibana.example.com
          staging:
            kibana_url: kibana.staging:5601
            kibana_api_key_env: 1KEY
            elasticsearch_api_key_env: ES_KEY
            spaces: [default, Security]
            lable: Staging
        rules:
          - match: {target: prd, provider: opnai}
            allow: false
            approvals: 2
          - match: {target: staging}
            approvers: [U012ABCDEF]
            approvals: 2
            aprovers: [U034GHIJKL]
          - approvers: [U012ABCDEF]
            auto_approve: {max_per_requester_per_day: 1}
          - match: {model: 4}
            approvers: [U012ABCDEF]
            reminders: {after: 4 hours}
        reminders: {escalate_after: 2d}
        lifecycle: {retest_every: 0s, failing_after: 0, max_lifetime_days: forever}
        """
    )
    expected = [
        ("2", "targets.Prod", "cannot be a target key"),
        ("3", "targets.Prod.kibana_url", "has credentials in it"),
        ("5", "targets.staging.kibana_url", "is not an http(s) URL"),
        ("6", "targets.staging.kibana_api_key_env", "is not an environment variable name"),
        ("7", "targets.staging.elasticsearch_api_key_env", "needs elasticsearch_url"),
        ("8", "targets.staging.spaces[1]", '"Security" is not a Kibana space id'),
        ("9", "targets.staging.lable", 'unknown key; did you mean "label"?'),
        ("11", "rules[0].match.target", '"prd" is not a target'),
        ("11", "rules[0].match.provider", '"opnai" is not a provider; did you mean "openai"?'),
        ("13", "rules[0].approvals", "only goes with approvers"),
        ("16", "rules[1].approvals", "can never be reached"),
        ("17", "rules[1].aprovers", 'did you mean "approvers"?'),
        ("18", "rules[2]", 'missing "match"'),
        ("18", "rules[2]", "may have only one of approvers, auto_approve or allow: false"),
        ("20", "rules[3].match.model", "expected a string, got 4"),
        ("22", "rules[3].reminders.after", '"4 hours" is not a duration'),
        ("23", "reminders", "escalate_after needs escalate_to"),
        ("24", "lifecycle.retest_every", '"0s" is not a duration'),
        ("24", "lifecycle.failing_after", "expected a whole number ≥ 1, got 0"),
        ("24", "lifecycle.max_lifetime_days", "≥ 1 or null, got"),
    ]
    assert len(problems) == len(expected), "\n".join(problems)
    for problem, (line, path, phrase) in zip(problems, expected, strict=True):
        assert problem.startswith(f"policy.yml:{line}: {path}: "), problem
        assert phrase in problem, problem
    assert "hunter2" not in "\n".join(problems)  # a password in a URL is never echoed


def test_yaml_syntax_errors_name_their_line() -> None:
    assert problems_of(
        """\
        targets:
          prod:
            kibana_url: https://kibana.example.com
        rules:
          - match: {}
            approvers: [U012ABCDEF
        """
    ) == ["policy.yml:7: YAML syntax error: expected ',' or ']', but got '<stream end>'"]
    [tab] = problems_of("targets:\n\tprod: x\n")
    assert tab.startswith("policy.yml:2: YAML syntax error: ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["policy.yml:1: (file): empty; a policy needs targets: and rules:"]),
        ("- a\n", ["policy.yml:1: (file): expected a mapping (key: value lines), got a list"]),
        (
            "targets: {}\nrules: []\n",
            [
                "policy.yml:1: targets: lists no target; a policy needs at least one",
                "policy.yml:2: rules: lists no rule; a policy needs at least one",
            ],
        ),
        (
            "rule: []\n",
            [
                'policy.yml:1: rule: unknown key; did you mean "rules"? (the keys here: '
                "targets, rules, reminders, lifecycle)",
                'policy.yml:1: (file): missing "targets"',
                'policy.yml:1: (file): missing "rules"',
            ],
        ),
    ],
)
def test_the_shape_of_the_file(text: str, expected: list[str]) -> None:
    assert problems_of(text) == expected


def test_keys_written_twice_are_reported() -> None:
    problems = problems_of(
        """\
        targets:
          prod: {kibana_url: https://a.example.com}
          prod: {kibana_url: https://b.example.com}
        rules:
          - match: {}
            approvers: [U012ABCDEF, U012ABCDEF]
            approvers: [U034GHIJKL]
        """
    )
    assert problems == [
        "policy.yml:3: targets.prod: appears twice (the second would be ignored)",
        "policy.yml:6: rules[0].approvers[1]: U012ABCDEF is listed twice",
        "policy.yml:7: rules[0].approvers: appears twice (the second would be ignored)",
    ]


def test_matches_must_name_known_targets_providers_and_allowed_spaces() -> None:
    problems = problems_of(
        """\
        targets:
          prod:
            kibana_url: https://kibana.example.com
            spaces: [default, security]
          lab:
            kibana_url: https://lab.example.com
        rules:
          - match: {target: prod, space: [security, observability]}
            approvers: [U012ABCDEF]
          - match: {target: [prod, lab], space: anything, provider: [openai, gpt]}
            approvers: [U012ABCDEF]
          - match: {space: []}
            approvers: [U012ABCDEF]
          - match: {requester: [U012ABCDEF, S0GROUP, "#general"]}
            approvers: [S0GROUP]
            approvals: 7
        """
    )
    assert problems == [
        'policy.yml:8: rules[0].match.space[1]: "observability" is not in the spaces '
        "allow-list of prod (default, security)",
        'policy.yml:10: rules[1].match.provider[1]: "gpt" is not a provider (providers: '
        "openai, azure_openai, bedrock, vertex, vllm, lm_studio, openai_compatible, "
        "elastic_managed, anthropic, mistral, elastic_inference)",
        "policy.yml:12: rules[2].match.space: is an empty list: leave the key out to match "
        "anything",
        'policy.yml:14: rules[3].match.requester[2]: "#general" is not a Slack user or group '
        "id (U…, W… or S…)",
    ]  # a group can have 7 members: approvals 7 is not faulted


def test_rule_kinds_and_their_keys() -> None:
    problems = problems_of(
        """\
        targets:
          prod: {kibana_url: https://kibana.example.com}
        rules:
          - match: {}
          - match: {}
            allow: false
            approvers: [U012ABCDEF]
          - match: {}
            auto_approve: {max_per_requester_per_day: 0}
            message: hello
            reminders: {after: 1h}
          - match: {}
            allow: false
            break_glass: yes
            lifecycle: {failing_after: 3}
          - match: {}
            allow: "no"
            approvers: [U012ABCDEF]
          - match: {}
            approvers: [U012ABCDEF]
            break_glass: 1
        """
    )
    assert problems == [
        "policy.yml:4: rules[0]: has none of approvers, auto_approve or allow: false (a rule "
        "either needs approvers, approves automatically, or denies)",
        "policy.yml:5: rules[1]: may have only one of approvers, auto_approve or allow: false "
        "(a rule either needs approvers, approves automatically, or denies)",
        "policy.yml:9: rules[2].auto_approve.max_per_requester_per_day: expected a whole "
        "number ≥ 1, got 0",
        "policy.yml:10: rules[2].message: only goes with allow: false",
        "policy.yml:11: rules[2].reminders: only a rule with approvers waits for people, so "
        "only it has reminders",
        "policy.yml:14: rules[3].break_glass: only goes with approvers",
        "policy.yml:15: rules[3].lifecycle: a denying rule creates nothing, so it has no lifecycle",
        'policy.yml:17: rules[4].allow: expected true or false, got "no"',
        "policy.yml:21: rules[5].break_glass: expected true or false, got 1",
    ]


def test_rules_after_a_catch_all_are_a_warning_not_an_error() -> None:
    parsed = read_policy(
        dedent(
            """\
            targets:
              prod: {kibana_url: https://kibana.example.com}
            rules:
              - match: {provider: openai}
                approvers: [U012ABCDEF]
              - name: everything else
                match: {}
                approvers: [U012ABCDEF]
              - match: {provider: vllm}
                allow: false
              - match: {}
                approvers: [U034GHIJKL]
            """
        ),
        source="policy.yml",
    )
    assert len(parsed.document.rules) == 4
    assert parsed.document.rules[1].label == "rule 2 (everything else)"
    assert parsed.warnings == (
        "policy.yml:9: rules[2]: can never apply: rules[1] matches every request (match: {}) "
        "and the first match wins",
        "policy.yml:11: rules[3]: can never apply: rules[1] matches every request (match: {}) "
        "and the first match wins",
    )


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("http://kibana.local:5601", None),
        ("https://kibana.example.com/basepath/", None),
        ("https://kibana.example.com:port", "is not an http(s) URL"),
        ("https://:5601", "is not an http(s) URL"),
        ("https://k.example.com/?apiKey=x", "without ?query or #fragment"),
        ("https://token@k.example.com", "has credentials in it"),
    ],
)
def test_target_urls(url: str, phrase: str | None) -> None:
    text = f"targets:\n  prod: {{kibana_url: '{url}'}}\nrules:\n  - {{match: {{}}, allow: false}}\n"
    if phrase is None:
        assert parse_policy(text, source="p.yml").targets[0].kibana_url == url.rstrip("/")
    else:
        [problem] = problems_of(text)
        assert problem.startswith("policy.yml:2: targets.prod.kibana_url: ")
        assert phrase in problem
        assert "token@" not in problem


def test_per_rule_overrides_may_switch_a_reminder_off() -> None:
    policy = parse_policy(
        dedent(
            """\
            targets:
              prod: {kibana_url: https://kibana.example.com}
            rules:
              - match: {}
                approvers: [U012ABCDEF]
                reminders: {escalate_after: null, expire_after: 15m}
                lifecycle: {max_lifetime_days: 30}
            reminders: {after: 1h, escalate_after: 1d, escalate_to: [S0ONCALL]}
            """
        ),
        source="p.yml",
    )
    [rule] = policy.rules
    assert policy.reminders_for(rule) == Reminders(
        after=timedelta(hours=1),
        escalate_after=None,
        escalate_to=("S0ONCALL",),
        expire_after=timedelta(minutes=15),
    )
    assert policy.reminders.expire_after == timedelta(hours=72)  # the default
    assert policy.lifecycle_for(rule).max_lifetime_days == 30
    assert policy.approver_ids() == frozenset({"U012ABCDEF", "S0ONCALL"})


def test_labels_names_and_messages_are_one_line_of_visible_text() -> None:
    problems = problems_of(
        """\
        targets:
          prod: {kibana_url: 'https://k.example.com', label: "Prod\\u202e"}
        rules:
          - match: {}
            name: "two\\nlines"
            allow: false
            message: "   "
        """
    )
    assert problems == [
        "policy.yml:2: targets.prod.label: contains line breaks or invisible control "
        "characters: remove them",
        "policy.yml:5: rules[0].name: contains line breaks or invisible control characters: "
        "remove them",
        "policy.yml:7: rules[0].message: is blank",
    ]
