// Linux interfaces Glibc's Swift module does not include: epoll and eventfd, for the HTTP server's event loops,
// and the calling thread's id, for giving worker threads a nice value of their own.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int clinux_gettid(void) { return (int)syscall(SYS_gettid); }
