"""The HTTP API for clerks, reviewers, admins and (later) the bank's callbacks."""
