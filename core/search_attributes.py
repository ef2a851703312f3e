"""Custom search attributes: how admins find workflows. Names and codes only, never personal data
(search attributes are stored unencrypted)."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

WORKFLOW_TYPE = SearchAttributeKey.for_keyword("UnioncardType")
STATUS = SearchAttributeKey.for_keyword("UnioncardStatus")
ORG = SearchAttributeKey.for_keyword("UnioncardOrg")
DISTRICT = SearchAttributeKey.for_keyword("UnioncardDistrict")
OVERDUE = SearchAttributeKey.for_bool("UnioncardOverdue")
LAST_TRANSITION = SearchAttributeKey.for_datetime("UnioncardLastTransition")
AWAITING = SearchAttributeKey.for_keyword("UnioncardAwaiting")  # a role, never a person
# The ids of the organisation and of every organisation above it: "this union and below" is
# ``UnioncardOrgAncestors = '<id>'``.
ORG_ANCESTORS = SearchAttributeKey.for_keyword_list("UnioncardOrgAncestors")

ALL = (WORKFLOW_TYPE, STATUS, ORG, DISTRICT, OVERDUE, LAST_TRANSITION, AWAITING, ORG_ANCESTORS)


def ancestors(org_path: str) -> list[str]:
    """The organisation ids of a materialised path ('/1/4/9/' -> ['1', '4', '9'])."""
    return [part for part in org_path.split("/") if part]


def at_start(
    kind: str, status: str, org_code: str = "", org_path: str = "", district: str = "", *, timed: bool = True
) -> TypedSearchAttributes:
    """Search attributes given when a workflow that does not set its own is started (imports,
    the yearly registration opener): findable by type, organisation and age like the others."""
    pairs: list[SearchAttributePair] = [  # type: ignore[type-arg]
        SearchAttributePair(WORKFLOW_TYPE, kind),
        SearchAttributePair(STATUS, status),
        SearchAttributePair(OVERDUE, False),
        SearchAttributePair(AWAITING, ""),
    ]
    if timed:  # not for a schedule's action, started later
        pairs.append(SearchAttributePair(LAST_TRANSITION, datetime.now(UTC)))
    if org_code:
        pairs += [SearchAttributePair(ORG, org_code), SearchAttributePair(ORG_ANCESTORS, ancestors(org_path))]
    if district:
        pairs.append(SearchAttributePair(DISTRICT, district))
    return TypedSearchAttributes(pairs)
