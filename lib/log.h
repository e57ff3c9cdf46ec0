/* Logging for the daemons: one line per event on stderr, key=value fields. */
#ifndef LIB_LOG_H
#define LIB_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Lines below this level are dropped; LOG_INFO by default. */
void log_set_level(enum log_level level);

/* Write one line: "<time> <level> <program>: <message>". Thread-safe. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Name printed on every line (not copied: pass a string literal or argv[0]). */
void log_set_program(const char *name);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
