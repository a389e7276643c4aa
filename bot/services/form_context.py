"""What the request form shows for a target: the targets to choose from, what its Kibana can
take, its back-end and its spaces (asked while a person waits: quick clients)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.deps import Deps
from bot.domain.backends import BackendChoice
from bot.services import catalog, intake, stack
from bot.services.catalog import Availability, SpaceOptions


@dataclass(frozen=True)
class FormContext:
    target: str
    targets: tuple[tuple[str, str], ...]  # (key, name) to choose from; () with one target
    availability: Availability | None = None
    backend: BackendChoice | None = None
    spaces: SpaceOptions | None = None  # None: the space is a text input, as without targets
    max_lifetime_days: int | None = None  # the policy's maximum lifetime (the Lifetime select)

    @property
    def plain(self) -> bool:
        """True when the form is the one without targets: nothing to choose or note."""
        return not self.targets and self.spaces is None


def target_choices(deps: Deps) -> tuple[tuple[str, str], ...]:
    """The targets the form offers, in the policy's order (none when there is only one)."""
    if not deps.several_targets:
        return ()
    return tuple((target.key, target.display) for target in deps.governance.targets)


def asks_space(deps: Deps, target: str) -> bool:
    """True when the space is chosen from a list: several targets, or an allow-list."""
    return deps.several_targets or deps.clients_for(target).target.spaces is not None


def initial_context(deps: Deps) -> FormContext:
    """The form the slash command opens at once (nothing asked yet): the default target and,
    when it has one, its allow-list."""
    target = deps.governance.default_target.key
    return FormContext(
        target=target,
        targets=target_choices(deps),
        spaces=catalog.allow_list_spaces(deps, target=target),
        max_lifetime_days=intake.max_lifetime_days(deps),
    )


def spaces_for(deps: Deps, target: str) -> SpaceOptions | None:
    """The target's spaces for the form (remembered a minute), or None for a text input."""
    return catalog.offered_spaces(deps, target=target) if asks_space(deps, target) else None


def read_context(deps: Deps, target: str) -> FormContext:
    """Ask the target's Kibana (and Elasticsearch, when it has one) what the form needs."""
    return FormContext(
        target=target,
        targets=target_choices(deps),
        availability=catalog.connector_availability(deps, target=target),
        backend=(
            stack.stack_backend(deps, target) if stack.inference_configured(deps, target) else None
        ),
        spaces=spaces_for(deps, target),
        max_lifetime_days=intake.max_lifetime_days(deps),
    )
