#define _GNU_SOURCE  /* accept4 */
#include <sys/socket.h>
#include <uv.h>

/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC (a GNU extension Swift's Glibc
/// module does not show): the listener's own accept loop (AcceptLoop.swift).
static inline int shim_accept_nonblocking(int fd) {
    return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
