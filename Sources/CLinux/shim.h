// Linux interfaces Glibc's Swift module does not include: epoll and eventfd, for the HTTP server's event loops.
#include <sys/epoll.h>
#include <sys/eventfd.h>
