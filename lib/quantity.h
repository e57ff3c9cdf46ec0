/* Resource quantities as people write them: CPU "500m", "2", "1.5"; sizes "512Mi", "10Gi", "1G",
 * "2048" (a plain number means MiB). */
#ifndef LIB_QUANTITY_H
#define LIB_QUANTITY_H

#include <stdint.h>

/* CPU into millicores: "500m" -> 500, "2" -> 2000, "1.5" -> 1500, "0.25" -> 250, "0" -> 0.
 * Rejects negatives, empty, junk (signs, spaces, ".5", "1.", "1.5m"), fractions finer than 1m,
 * overflow. 0 / -1. */
int quantity_parse_cpu(const char *s, int64_t *millis) __attribute__((warn_unused_result));

/* A size into MiB, rounded up: "512Mi" -> 512, "1Gi" -> 1024, "1Ti" -> 1048576, "1G" -> 954
 * (10^9 bytes rounded up to MiB), "100M" -> 96, "2048Ki" -> 2, "64" -> 64 (plain = MiB),
 * "1.5Gi" -> 1536 (up to 9 fraction digits). Suffixes: Ki Mi Gi Ti (binary), K M G T (decimal).
 * Rejects negatives, junk, zero, overflow. 0 / -1. */
int quantity_parse_mb(const char *s, int64_t *mb) __attribute__((warn_unused_result));

/* Format for tables: 500 -> "500m", 2000 -> "2", 0 -> "0"; 512 -> "512Mi", 1024 -> "1Gi",
 * 1536 -> "1536Mi", 1048576 -> "1Ti", 0 -> "0Mi". Writes at most n bytes into out (always
 * NUL-terminated, truncated if it does not fit; nothing when n <= 0). */
void quantity_format_cpu(int64_t millis, char *out, int n);
void quantity_format_mb(int64_t mb, char *out, int n);

#endif
