"""Workflows: one per file, deterministic and thin. ``WORKFLOWS`` is what the worker registers."""

from workflows.card_batch import CardBatchWorkflow
from workflows.card_loss import CardLossWorkflow
from workflows.district_filing import DistrictFilingWorkflow
from workflows.enrollment import EnrollmentWorkflow
from workflows.member_import import MemberImportWorkflow
from workflows.registration import RegistrationWorkflow
from workflows.registration_year import RegistrationYearWorkflow

WORKFLOWS: list[type] = [MemberImportWorkflow, CardBatchWorkflow, EnrollmentWorkflow, DistrictFilingWorkflow]
WORKFLOWS += [RegistrationWorkflow, RegistrationYearWorkflow, CardLossWorkflow]

__all__ = [
    "WORKFLOWS",
    "CardBatchWorkflow",
    "CardLossWorkflow",
    "DistrictFilingWorkflow",
    "EnrollmentWorkflow",
    "MemberImportWorkflow",
    "RegistrationWorkflow",
    "RegistrationYearWorkflow",
]
