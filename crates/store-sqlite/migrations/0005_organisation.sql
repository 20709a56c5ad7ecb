-- Every version of the organisation (centres, departments, teams, employees, coverage),
-- as a JSON document with where it came from: the configuration or an edit.
CREATE TABLE organisation_versions (
    version  BIGINT PRIMARY KEY,
    at_ms    BIGINT NOT NULL,
    source   TEXT   NOT NULL,
    document TEXT   NOT NULL
);
