"""The operations, one module per resource: what the API and the workbench both call."""
