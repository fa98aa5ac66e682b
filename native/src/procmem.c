/* Reading the target's memory. process_vm_readv(2) fails as a whole when any part of the range is
 * unmapped, so strings are read up to the next page boundary at a time. */
#include "procmem.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 4096u

static int read_proc_mem(pid_t tid, uint64_t addr, void *out, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)tid);
	AUTOCLOSE int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EACCES)
			errno = EPERM;
		return -1;
	}
	ssize_t n = pread(fd, out, len, (off_t)addr);
	if (n < 0 || (size_t)n != len) {
		errno = EFAULT;
		return -1;
	}
	return 0;
}

int procmem_read(pid_t tid, uint64_t addr, void *out, size_t len)
{
	struct iovec local = { out, len }, remote = { (void *)(uintptr_t)addr, len };

	if (len == 0)
		return 0;
	/* process_vm_readv(2): one syscall, no fd; needs PTRACE_MODE_ATTACH (the agent is our child). */
	ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0) {
		errno = EFAULT;
		return -1;
	}
	if (errno == EPERM || errno == ENOSYS)
		return read_proc_mem(tid, addr, out, len);
	if (errno == ESRCH)
		return -1;
	errno = EFAULT;
	return -1;
}

ssize_t procmem_read_str(pid_t tid, uint64_t addr, char *out, size_t max)
{
	size_t got = 0;

	if (addr == 0) {
		errno = EFAULT;
		return -1;
	}
	while (got <= max) {
		uint64_t a = addr + got;
		size_t chunk = PAGE - (size_t)(a % PAGE);
		if (chunk > max + 1 - got)
			chunk = max + 1 - got;
		if (procmem_read(tid, a, out + got, chunk) < 0)
			return -1;
		char *nul = memchr(out + got, '\0', chunk);
		if (nul)
			return nul - out;
		got += chunk;
	}
	errno = ENAMETOOLONG;
	return -1;
}

ssize_t procmem_readv(pid_t tid, const struct iovec *local, const struct iovec *remote, size_t n)
{
	return process_vm_readv(tid, local, n, remote, n, 0);
}

int procmem_write(pid_t tid, uint64_t addr, const void *data, size_t len)
{
	struct iovec local = { (void *)data, len }, remote = { (void *)(uintptr_t)addr, len };

	if (len == 0)
		return 0;
	/* process_vm_writev(2): the same access check as the reads. */
	ssize_t n = process_vm_writev(tid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && (errno == EPERM || errno == ENOSYS)) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)tid);
		AUTOCLOSE int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0 && pwrite(fd, data, len, (off_t)addr) == (ssize_t)len)
			return 0;
	}
	errno = EFAULT;
	return -1;
}
