/* The agent's host token: from --token, or from --token-file, which the agent reads again when
 * the file changes (a rotation: `dbaasctl host rotate-token`, docs/agent.md). */
#ifndef AGENT_TOKEN_H
#define AGENT_TOKEN_H

struct agent;
struct httpc;

/* The token in the file at path: its first line without surrounding blanks. NULL when the file
 * cannot be read, or holds no token (empty, blanks inside, longer than 256 bytes, or bytes that
 * are not printable ASCII). The caller wipes and frees it. */
char *agent_token_read(const char *path);
/* Start: a->token from cfg->token, and the token file's identity (when there is a file). */
void agent_token_init(struct agent *a);
/* Before each exchange with dbaasd, on the thread that owns c: when the token file changed
 * (inode, size or modification time) read it again, and give c the current token. A file that
 * cannot be read or holds no token keeps the old token (logged once per change). */
void agent_token_apply(struct agent *a, struct httpc *c);

#endif
