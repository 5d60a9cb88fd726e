/*
 * net.h: the few socket operations the load generator needs, each with its errors spelled out.
 */
#ifndef C10K_NET_H
#define C10K_NET_H

#include <stdint.h>
#include <sys/socket.h>

struct net_addr {
	struct sockaddr_storage sa;
	socklen_t len;
};

/* Resolves host:port (a literal address or a name) once, before the run. Returns 0, or -1
 * with a one-line reason in why. */
int net_resolve(const char *host, uint16_t port, struct net_addr *out, const char **why);

/* Starts a non-blocking connect with TCP_NODELAY. Returns the fd (connected or in progress),
 * or -errno when it failed at once (EMFILE, ECONNREFUSED, EADDRNOTAVAIL, ...). */
int net_connect(const struct net_addr *addr);

/* The outcome of a connect in progress, once the fd is writable: 0 or an errno value. */
int net_connect_error(int fd);

/* Raises the open-file limit to the hard limit. Returns the new soft limit. */
unsigned long net_raise_fd_limit(void);

#endif
