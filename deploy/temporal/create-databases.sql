-- Run once by the PostgreSQL image when Temporal's database cluster is first initialised:
-- POSTGRES_DB creates `temporal`; visibility (workflow lists and search attributes) has its own.
CREATE DATABASE temporal_visibility;
