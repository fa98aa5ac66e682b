/* Safe reads of the target's memory (strings and pointer arrays), page by page. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Read len bytes at addr into out: 0, or -1 with errno (EFAULT for an unmapped page, EPERM when the
 * target's memory is off limits — a non-dumpable process —, ESRCH when it is gone). Uses
 * process_vm_readv and falls back to /proc/<tid>/mem when that is not permitted. */
int procmem_read(pid_t tid, uint64_t addr, void *out, size_t len);

/* Read a NUL-terminated string of at most max bytes (NUL excluded). Returns its length, -1 with errno
 * EFAULT (unreadable) or ENAMETOOLONG (longer than max). Never crosses into an unmapped page it does not
 * need: each read stops at the page boundary. */
ssize_t procmem_read_str(pid_t tid, uint64_t addr, char *out, size_t max);

struct iovec;
/* One process_vm_readv of n remote ranges (each within one page) into n local buffers: the number of bytes
 * transferred (ranges are transferred whole, in order, up to the first unreadable one), or -1 with errno.
 * No /proc/<tid>/mem fallback: callers fall back to procmem_read/procmem_read_str for what is missing. */
ssize_t procmem_readv(pid_t tid, const struct iovec *local, const struct iovec *remote, size_t n);

/* Write len bytes at addr in the target (results the supervisor returns for a syscall it performed, e.g.
 * sendmmsg's msg_len): 0, or -1 with errno. process_vm_writev, else /proc/<tid>/mem. */
int procmem_write(pid_t tid, uint64_t addr, const void *data, size_t len);
