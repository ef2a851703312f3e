"""Workflows: one per file, deterministic and thin. ``WORKFLOWS`` is what the worker registers."""

from workflows.card_batch import CardBatchWorkflow
from workflows.member_import import MemberImportWorkflow

WORKFLOWS: list[type] = [MemberImportWorkflow, CardBatchWorkflow]

__all__ = ["WORKFLOWS", "CardBatchWorkflow", "MemberImportWorkflow"]
