"""The workbench (业务工作台): server-rendered Chinese pages over the same services as the API."""
