CREATE TABLE accounts (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE
);

CREATE TABLE todos (
    id SERIAL PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    done BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX todos_owner ON todos (owner_id);

-- Two demo accounts. A real application stores a hash of each token, never the token.
INSERT INTO accounts (name, token) VALUES ('alice', 'alice-token'), ('bob', 'bob-token');
