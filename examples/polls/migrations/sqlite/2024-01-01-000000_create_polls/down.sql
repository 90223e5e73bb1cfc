DROP TABLE users;
DROP TABLE questions;
