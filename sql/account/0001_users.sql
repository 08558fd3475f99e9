CREATE TABLE users (
    id            uuid PRIMARY KEY,
    username      text,
    email         text,
    password_hash text NOT NULL,
    fullname      text NOT NULL DEFAULT '',
    date_of_birth date,
    gender        text,
    version       integer NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CHECK (username IS NOT NULL OR email IS NOT NULL)
);

-- Sign-in names are unique without regard to case.
CREATE UNIQUE INDEX users_username ON users (lower(username));
CREATE UNIQUE INDEX users_email ON users (lower(email));
