"""What the worker registers: every workflow, and how the sandbox treats our shared modules."""

from __future__ import annotations

import compileall
from pathlib import Path

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

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

# Imported once per worker instead of once per workflow run: stateless helpers and message types
# shared by every workflow (the workflow modules themselves stay sandboxed).
PASSED_THROUGH = (
    "models",
    "workflows.common",
    "core.search_attributes",
    "workflows.machines",
    "workflows.dated_inputs",
    "workflows.claim_messages",
    "workflows.enrollment_messages",
    "workflows.card_batch_messages",
    "workflows.district_filing_messages",
)


def sandbox_runner() -> SandboxedWorkflowRunner:
    """The sandbox every workflow runs in. Each run imports its workflow module afresh; compiling
    the package once here lets those imports read bytecode instead of compiling the source again
    (also where PYTHONDONTWRITEBYTECODE is set)."""
    compileall.compile_dir(Path(__file__).parent, quiet=2, force=False, legacy=False)
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH)
    return SandboxedWorkflowRunner(restrictions=restrictions)


__all__ = ["PASSED_THROUGH", "WORKFLOWS", "sandbox_runner"]
