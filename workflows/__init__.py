"""Workflows: one per file, deterministic and thin. ``WORKFLOWS`` is what the worker registers."""

from workflows.card_batch import CardBatchWorkflow
from workflows.district_filing import DistrictFilingWorkflow
from workflows.enrollment import EnrollmentWorkflow
from workflows.member_import import MemberImportWorkflow

WORKFLOWS: list[type] = [MemberImportWorkflow, CardBatchWorkflow, EnrollmentWorkflow, DistrictFilingWorkflow]

__all__ = [
    "WORKFLOWS",
    "CardBatchWorkflow",
    "DistrictFilingWorkflow",
    "EnrollmentWorkflow",
    "MemberImportWorkflow",
]
