/* The agent binary's helper commands for seeding, run as an engine's OS user inside an
 * isolation group (agent/seeding.c on the replica's host, agent/seed.c on the primary's):
 *
 *   dbaas-agent seed-fetch [--from HOST:PORT --primary ID --replica ID --secret-file FILE]
 *                          [--status-file FILE] -- PROGRAM [ARGS...]
 *     runs PROGRAM; with --from its stdin is the seed stream: it connects to the primary's
 *     agent, proves it knows the replication secret (read from FILE, never from the command
 *     line), and hands the socket to PROGRAM.
 *   dbaas-agent seed-source --fifo PATH [--status-file FILE] -- PROGRAM [ARGS...]
 *     runs PROGRAM with its stdout on the FIFO the primary's agent relays to the replica.
 *
 * Both wait for PROGRAM, write its end ("exit N" or "signal N") to the status file when asked
 * (a group's init under LXC has no parent that can read its wait status), and exit with its
 * status (128 + N after a signal). SIGTERM and SIGINT are passed on to PROGRAM. */
#ifndef AGENT_SEEDCMD_H
#define AGENT_SEEDCMD_H

/* main() of each command, given the arguments after the command's name (argv[0] is the
 * command's name). Returns the exit status. */
int seedcmd_fetch_main(int argc, char **argv);
int seedcmd_source_main(int argc, char **argv);

/* The wait status a command wrote to its status file ("exit N" or "signal N"); -1 when there
 * is none or it cannot be read (read without following a link: the file is in a directory or
 * of a user the engine owns). */
int seedcmd_status_read(const char *path);

#endif
