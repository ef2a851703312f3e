"""The programme's rules as plain functions: ID numbers, member rows and their checks, fees and
splits, days and windows, card validity. No I/O, no framework."""
