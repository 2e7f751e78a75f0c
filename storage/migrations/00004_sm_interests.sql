-- What a resumable session fetched and so is told about (bits of
-- router.Interests: the roster, the block list), so that a session taken
-- over from a lost node keeps getting its roster and block-list pushes.

-- +goose Up
ALTER TABLE sm_sessions ADD COLUMN interests SMALLINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE sm_sessions DROP COLUMN interests;
