"""Who may be named where: the people of a deal request, a partner's contact user and a
delegate, checked against the users directory (`store.users`) when the API takes them.

Every failure is a 422 problem naming the field (`body.plan_approvers.1`,
`body.partner_approval_chain.0.approvers.0`, `body.licensor_signatory`, ...). The rules:

- everyone named on a deal (plan approvers, chain approvers and escalation targets, the
  licensor signatory) is an existing, active user with the `approver` role; an owner named by
  an admin is an active user with the `owner` role;
- separation of duties: the owner approves nothing; no user bound to a candidate partner is
  in the partner-approval chain; the licensor signatory is no partner user, and not the owner
  unless the request says `owner_may_sign` (then the owner signs with the owner role);
- one person approves (or is the escalation target of) at most one step of the chain;
- a partner's contact user is an active user with the `partner` role bound to that partner;
- a delegate (`check_delegate`) is an active approver, not the owner, no partner user and not
  in another step of the chain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from api.problems import ProblemError
from domain.approval import ApprovalStep
from domain.deal import DealRequest
from store import users
from store.pool import Db
from store.users import User

APPROVER = "approver"
OWNER = "owner"
PARTNER = "partner"


@dataclass(frozen=True)
class PersonError:
    """One named person who may not be named there: the field, why, and a problem type."""

    field: str
    message: str
    kind: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "type": self.kind}


def problem(errors: Sequence[PersonError]) -> ProblemError:
    """A 422 naming every failing field."""
    return ProblemError(
        422,
        "; ".join(f"{e.field}: {e.message}" for e in errors[:5]),
        title="Validation failed",
        errors=[e.as_dict() for e in errors],
    )


def person_error(
    people: Mapping[str, User], name: str, field: str, role: str
) -> PersonError | None:
    """Unknown, disabled, or without `role`; else None."""
    user = people.get(name)
    if user is None:
        return PersonError(field, f"unknown user {name!r}", "unknown_user")
    if not user.active:
        return PersonError(field, f"user {name!r} is disabled", "inactive_user")
    if role not in user.roles:
        return PersonError(field, f"user {name!r} does not hold the {role} role", "missing_role")
    return None


def _duty(field: str, message: str) -> PersonError:
    return PersonError(field, f"separation of duties: {message}", "separation_of_duties")


def deal_people_errors(
    deal: DealRequest, people: Mapping[str, User], *, caller: str
) -> list[PersonError]:
    """Every person of `deal` (its owner filled in) who may not be named where they are;
    `people` holds the users among the names (absent: unknown)."""
    owner = deal.owner or caller
    candidates = set(deal.partners)
    errors: list[PersonError] = []

    def add(error: PersonError | None) -> bool:
        if error is not None:
            errors.append(error)
        return error is None

    if owner != caller:
        add(person_error(people, owner, "body.owner", OWNER))
    for i, name in enumerate(deal.plan_approvers):
        field = f"body.plan_approvers.{i}"
        if add(person_error(people, name, field, APPROVER)) and name == owner:
            add(_duty(field, f"the owner {name!r} may not approve the plan"))
    step_of: dict[str, tuple[int, str]] = {}  # person -> (index, name) of their first step
    for j, step in enumerate(deal.partner_approval_chain):
        named = [
            (f"body.partner_approval_chain.{j}.approvers.{k}", a)
            for k, a in enumerate(step.approvers)
        ]
        if step.escalate_to:
            named.append((f"body.partner_approval_chain.{j}.escalate_to", step.escalate_to))
        for field, name in named:
            add(_chain_person_error(people, name, field, j, owner, candidates, step_of))
            step_of.setdefault(name, (j, step.step))
    field = "body.licensor_signatory"
    name = deal.licensor_signatory
    if name == owner and deal.owner_may_sign:
        pass  # the owner signs as owner: checked as `body.owner` when named by an admin
    elif add(person_error(people, name, field, APPROVER)):
        bound = people[name].partner_id
        if name == owner:
            add(_duty(field, f"the owner {name!r} signs only with owner_may_sign"))
        elif bound is not None:
            add(_duty(field, f"{name!r} is a user of partner {bound!r}"))
    return errors


def _chain_person_error(
    people: Mapping[str, User],
    name: str,
    field: str,
    step: int,
    owner: str,
    candidates: set[str],
    step_of: Mapping[str, tuple[int, str]],
) -> PersonError | None:
    error = person_error(people, name, field, APPROVER)
    if error is not None:
        return error
    bound = people[name].partner_id
    if name == owner:
        return _duty(field, f"the owner {name!r} may not approve a partner")
    if bound is not None and bound in candidates:
        return _duty(field, f"{name!r} is a user of candidate partner {bound!r}")
    other = step_of.get(name)
    if other is not None and other[0] != step:
        return _duty(field, f"{name!r} is in step {other[1]!r} already: one step per person")
    return None


def deal_people(deal: DealRequest, *, caller: str) -> list[str]:
    """Every user name a deal request names (and its owner), sorted."""
    names = {deal.owner or caller, *deal.plan_approvers, deal.licensor_signatory}
    for step in deal.partner_approval_chain:
        names.update(step.approvers)
        if step.escalate_to:
            names.add(step.escalate_to)
    return sorted(names)


async def check_deal_people(db: Db, deal: DealRequest, *, caller: str) -> None:
    """422 naming every person of `deal` who may not be named where they are."""
    people = await users.get_many(db, deal_people(deal, caller=caller))
    errors = deal_people_errors(deal, people, caller=caller)
    if errors:
        raise problem(errors)


async def check_contact_user(
    db: Db, contact_user: str, partner_id: str, *, field: str = "body.contact_user"
) -> User:
    """The partner's contact user: an active user with the partner role bound to
    `partner_id` (created before the partner: `licenseflow user add NAME --role partner
    --partner ID`); else 422 naming `field`."""
    found = await users.get(db, contact_user)
    error = person_error({contact_user: found} if found else {}, contact_user, field, PARTNER)
    if error is None and found is not None and found.partner_id != partner_id:
        error = PersonError(
            field, f"user {contact_user!r} is not bound to partner {partner_id!r}", "wrong_partner"
        )
    if error is not None:
        raise problem([error])
    assert found is not None
    return found


async def check_delegate(
    db: Db,
    delegate: str,
    *,
    owner: str | None,
    chain: Sequence[ApprovalStep],
    step: str | None,
    field: str = "body.delegate_to",
) -> User:
    """The user a step's task may be delegated to: an active user with the approver role,
    not the deal's `owner`, bound to no partner, and not an approver (or escalation target) of
    a step of `chain` other than `step`; else 422 naming `field`."""
    found = await users.get(db, delegate)
    error = person_error({delegate: found} if found else {}, delegate, field, APPROVER)
    if error is None and found is not None:
        others = [
            s.step
            for s in chain
            if s.step != step and (delegate in s.approvers or delegate == s.escalate_to)
        ]
        if delegate == owner:
            error = _duty(field, f"the owner {delegate!r} may not approve a partner")
        elif found.partner_id is not None:
            error = _duty(field, f"{delegate!r} is a user of partner {found.partner_id!r}")
        elif others:
            error = _duty(
                field, f"{delegate!r} is in step {others[0]!r} already: one step per person"
            )
    if error is not None:
        raise problem([error])
    assert found is not None
    return found
