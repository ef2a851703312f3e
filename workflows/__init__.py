"""Workflows: one per file, deterministic and thin. The worker registers ``workflows.registry.WORKFLOWS``.

This package's ``__init__`` imports nothing: every workflow run imports its own module (and this
package) afresh inside the sandbox, so anything imported here would be imported once per run.
"""
