"""On top of everything: the console script (`unioncard`), the dev launcher and its demo data;
nothing below imports it."""
