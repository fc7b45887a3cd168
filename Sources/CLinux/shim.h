// Linux interfaces Glibc's Swift module does not include: epoll and eventfd, for the HTTP server's event loops,
// and the calling thread's id, for giving worker threads a nice value of their own; malloc_trim, for the event
// loops to give freed connection buffers back to the system after many connections closed.
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int clinux_gettid(void) { return (int)syscall(SYS_gettid); }
