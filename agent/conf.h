/* dbaas-agent's configuration file (--config FILE): `key = value` lines with the long options'
 * names ('_' taken for '-'), '#' starting a comment, blank lines ignored; and the durations its
 * settings take. Pure parsing over a stream: the caller opens the file and stores the values
 * (agent/main.c), tests/fuzz/fuzz_agent_conf.c feeds it any bytes. */
#ifndef AGENT_CONF_H
#define AGENT_CONF_H

#include <stdint.h>
#include <stdio.h>

/* Store one setting; 0, or -1 when the key is unknown. */
typedef int (*conf_set_fn)(void *arg, const char *key, const char *value);

/* Read every line of f (lines longer than 1023 bytes are read in pieces, each a line), calling
 * set for each `key = value` with both trimmed of blanks. path names the file in messages. 0,
 * or -1 with a message "PATH:LINE: ..." in msg (n bytes) at the first line that is not a
 * setting or names an unknown key. */
int conf_load(FILE *f, const char *path, conf_set_fn set, void *arg, char *msg, size_t n)
    __attribute__((warn_unused_result));

/* A duration: a number of seconds with an optional unit s, m, h or d. 0 / -1. */
int conf_duration(const char *s, int64_t *secs) __attribute__((warn_unused_result));

#endif
