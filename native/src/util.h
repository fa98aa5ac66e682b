/* Small helpers shared by every part of the supervisor: fatal errors, debug tracing, clocks, buffers. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NORETURN __attribute__((noreturn))
#define PRINTF_LIKE(a, b) __attribute__((format(printf, a, b)))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Exit status of every failure of the gate itself (the shell's "cannot execute"). */
#define EXIT_GATE_FAILURE 126

extern bool g_debug;

/* Called once by die()/die_errno() before exiting, with the formatted message (e.g. to send FATAL to the
 * broker and kill the agent's process group). */
void set_die_hook(void (*hook)(const char *msg));

/* Print "agent-gate: <msg>" on stderr, run the die hook, exit 126. */
NORETURN PRINTF_LIKE(1, 2) void die(const char *fmt, ...);
/* Same, with ": <strerror(errno)>" appended. */
NORETURN PRINTF_LIKE(1, 2) void die_errno(const char *fmt, ...);
/* "agent-gate: <msg>" on stderr, no exit. */
PRINTF_LIKE(1, 2) void warn_msg(const char *fmt, ...);
/* Trace to stderr when AGENT_GATE_DEBUG=1. */
PRINTF_LIKE(1, 2) void debug(const char *fmt, ...);

uint64_t monotonic_us(void);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrndup(const char *s, size_t n);

/* Write everything (retrying on EINTR and short writes). 0 on success, -1 with errno. */
int write_all(int fd, const void *buf, size_t len);

/* A growable byte buffer. */
struct buf {
	char *p;
	size_t len, cap;
};
void buf_reserve(struct buf *b, size_t extra);
void buf_put(struct buf *b, const void *data, size_t n);
void buf_puts(struct buf *b, const char *s);
PRINTF_LIKE(2, 3) void buf_printf(struct buf *b, const char *fmt, ...);
/* Append the lowercase hex of n raw bytes. */
void buf_hex(struct buf *b, const void *data, size_t n);
void buf_free(struct buf *b);

/* Decode n hex digits into out (n/2 bytes). -1 on odd length or a bad digit. */
int hex_decode(const char *hex, size_t n, char *out);

/* Read a whole small file (e.g. /proc/<pid>/status) into out, NUL-terminated; bytes read or -1. */
ssize_t read_small_file(int dirfd, const char *path, char *out, size_t cap);

/* Cleanup attribute for fds: `AUTOCLOSE int fd = ...`. */
void close_fdp(int *fd);
#define AUTOCLOSE __attribute__((cleanup(close_fdp)))
