"""Workflows: one per file, deterministic and thin. ``WORKFLOWS`` is what the worker registers."""

from workflows.member_import import MemberImportWorkflow

WORKFLOWS: list[type] = [MemberImportWorkflow]

__all__ = ["WORKFLOWS", "MemberImportWorkflow"]
