/* Every way to truncate a file, by raw syscall, one per invocation: usage: truncs OP PATH [LENGTH]
 * OP: truncate (truncate(2)); open-rdonly-trunc / open-acc3-trunc / open-wronly-trunc (open(2) with O_TRUNC
 * and that access mode); openat-rdonly-trunc / openat-acc3-trunc / openat-wronly-trunc (the same through
 * openat(2)); handle-rdonly-trunc / handle-wronly-trunc (open_by_handle_at(2), root only); openat2-rdonly
 * (openat2(2), no O_TRUNC); ftruncate (open O_RDWR, ftruncate(2)); creat (creat(2)). Prints RESULT OP
 * ok|errno=… and the size afterwards. */
#include "result.h"
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int done(const char *op, long r, const char *path)
{
	int e = errno;
	struct stat st;
	if (r < 0) {
		result_errno(op, e);
	} else {
		result_ok(op);
	}
	if (stat(path, &st) == 0)
		printf("SIZE %lld\n", (long long)st.st_size);
	return r < 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	const char *op = argv[1], *path = argv[2];
	long len = argc > 3 ? atol(argv[3]) : 0;
	long r;

	if (strcmp(op, "truncate") == 0)
		r = syscall(SYS_truncate, path, len);
	else if (strcmp(op, "open-rdonly-trunc") == 0)
		r = syscall(SYS_open, path, O_RDONLY | O_TRUNC, 0);
	else if (strcmp(op, "open-acc3-trunc") == 0)
		r = syscall(SYS_open, path, O_ACCMODE | O_TRUNC, 0);
	else if (strcmp(op, "open-wronly-trunc") == 0)
		r = syscall(SYS_open, path, O_WRONLY | O_TRUNC, 0);
	else if (strcmp(op, "openat-rdonly-trunc") == 0)
		r = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_TRUNC, 0);
	else if (strcmp(op, "openat-acc3-trunc") == 0)
		r = syscall(SYS_openat, AT_FDCWD, path, O_ACCMODE | O_TRUNC, 0);
	else if (strcmp(op, "openat-wronly-trunc") == 0)
		r = syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_TRUNC, 0);
	else if (strcmp(op, "handle-rdonly-trunc") == 0 || strcmp(op, "handle-wronly-trunc") == 0) {
		/* name_to_handle_at + open_by_handle_at (needs CAP_DAC_READ_SEARCH: root). */
		struct {
			struct file_handle fh;
			unsigned char data[MAX_HANDLE_SZ];
		} h;
		int mount_id;
		h.fh.handle_bytes = MAX_HANDLE_SZ;
		r = syscall(SYS_name_to_handle_at, AT_FDCWD, path, &h.fh, &mount_id, 0);
		if (r == 0) {
			int mfd = open("/", O_RDONLY | O_DIRECTORY);
			int acc = op[7] == 'r' ? O_RDONLY : O_WRONLY;
			r = syscall(SYS_open_by_handle_at, mfd, &h.fh, acc | O_TRUNC);
		}
	} else if (strcmp(op, "openat2-rdonly") == 0) {
		struct open_how how = { .flags = O_RDONLY };
		r = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	} else if (strcmp(op, "ftruncate") == 0) {
		r = syscall(SYS_open, path, O_RDWR, 0);
		if (r >= 0)
			r = syscall(SYS_ftruncate, (int)r, len);
	} else if (strcmp(op, "creat") == 0)
		r = syscall(SYS_creat, path, 0644);
	else
		return 2;
	return done(op, r, path);
}
