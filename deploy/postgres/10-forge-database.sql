-- Runs once, when the postgres-data volume is first initialised (docker-entrypoint-initdb.d):
-- the platform's own login role and database. The services connect as this role, never as the
-- superuser; each service creates and owns its schema (auth, upload, ghost, sonic, audit) inside it.
\getenv forge_db_password FORGE_DB_PASSWORD
CREATE ROLE forge LOGIN PASSWORD :'forge_db_password';
CREATE DATABASE forge OWNER forge;
REVOKE ALL ON DATABASE forge FROM PUBLIC;
