"""Workflows: one per file, deterministic and thin. ``WORKFLOWS`` is what the worker registers."""

from workflows.card_batch import CardBatchWorkflow
from workflows.card_loss import CardLossWorkflow
from workflows.claim import ClaimWorkflow
from workflows.district_filing import DistrictFilingWorkflow
from workflows.enrollment import EnrollmentWorkflow
from workflows.member_import import MemberImportWorkflow
from workflows.registration import RegistrationWorkflow
from workflows.registration_year import RegistrationYearWorkflow

WORKFLOWS: list[type] = [
    MemberImportWorkflow,
    CardBatchWorkflow,
    EnrollmentWorkflow,
    DistrictFilingWorkflow,
    RegistrationWorkflow,
    RegistrationYearWorkflow,
    CardLossWorkflow,
    ClaimWorkflow,
]

__all__ = [
    "WORKFLOWS",
    "CardBatchWorkflow",
    "CardLossWorkflow",
    "ClaimWorkflow",
    "DistrictFilingWorkflow",
    "EnrollmentWorkflow",
    "MemberImportWorkflow",
    "RegistrationWorkflow",
    "RegistrationYearWorkflow",
]
