/* The schema migrations, in order. Never edit a released migration: add a new one. */
#ifndef STORE_MIGRATIONS_H
#define STORE_MIGRATIONS_H

struct migration {
    int version;
    const char *name;
    const char *sql; /* one or more statements, run in the migration transaction */
};

extern const struct migration migrations[];
extern const int migrations_count;

#endif
