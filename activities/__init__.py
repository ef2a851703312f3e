"""Activities: classes with their dependencies injected; all I/O of the workflows lives here."""
