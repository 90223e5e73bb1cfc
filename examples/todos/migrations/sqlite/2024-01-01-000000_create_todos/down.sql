DROP TABLE todos;
DROP TABLE accounts;
