#include <libpq-fe.h>

/// A notice processor that drops PostgreSQL's notices ("relation already exists, skipping"), which libpq would
/// otherwise print to stderr: the wrapper reports what matters through errors, and stdout/stderr belong to the
/// commands (`hookyard mcp` speaks its protocol on stdout and logs JSON lines on stderr).
static void cpostgresql_ignore_notice(void *arg, const char *message) { (void)arg; (void)message; }
static inline void cpostgresql_silence_notices(PGconn *connection) {
    PQsetNoticeProcessor(connection, cpostgresql_ignore_notice, 0);
}
