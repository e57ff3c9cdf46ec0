/* The LXC backend's container init (isolation/lxc.c): `PROGRAM lxc-init [--uid U --gid G] LOG --
 * ENGINE ARGS...`, run by libvirt as the domain's init. The program that carries it (the agent,
 * iso_check) calls lxc_init_main() when its first argument is "lxc-init". */
#ifndef ISOLATION_LXC_INIT_H
#define ISOLATION_LXC_INIT_H

/* The subcommand's name: argv[1] of the init. */
#define LXC_INIT_CMD "lxc-init"

/* argv[0] is "lxc-init". Sets umask 077; with --uid/--gid, takes the user's supplementary
 * groups, gid and uid and checks that root cannot be regained (ids, setuid(0), no effective
 * capability); then appends stdout and stderr to LOG (opened as that user, no symlink
 * followed), reads stdin from /dev/null, and execs ENGINE with ARGS and the environment libvirt
 * gave the init. Returns only on failure (127, a message on stderr, which libvirt logs). */
int lxc_init_main(int argc, char **argv);

#endif
