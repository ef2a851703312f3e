"""Custom search attributes: how admins find workflows. Names and codes only, never personal data
(search attributes are stored unencrypted)."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

WORKFLOW_TYPE = SearchAttributeKey.for_keyword("UnioncardType")
STATUS = SearchAttributeKey.for_keyword("UnioncardStatus")
ORG = SearchAttributeKey.for_keyword("UnioncardOrg")
DISTRICT = SearchAttributeKey.for_keyword("UnioncardDistrict")
OVERDUE = SearchAttributeKey.for_bool("UnioncardOverdue")
LAST_TRANSITION = SearchAttributeKey.for_datetime("UnioncardLastTransition")
AWAITING = SearchAttributeKey.for_keyword("UnioncardAwaiting")  # a role, never a person

ALL = (WORKFLOW_TYPE, STATUS, ORG, DISTRICT, OVERDUE, LAST_TRANSITION, AWAITING)
