/* What memfd_create(2) gives this process: the new memfd's mode, whether it can be made executable, and
 * whether an executable one can be asked for.
 * RESULT memfd mode=0NNN fchmod=ok|errno=E exec_flag=ok|errno=E */
#include "result.h"
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

int main(void)
{
	struct stat st;
	int fd = memfd_create("m", MFD_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return result_errno("memfd_create", errno);
	int ch = fchmod(fd, 0755) == 0 ? 0 : errno;
	int xfd = memfd_create("x", MFD_CLOEXEC | MFD_EXEC);
	int xe = xfd >= 0 ? 0 : errno;
	printf("RESULT memfd mode=0%o fchmod=%s%s exec_flag=%s%s\n", st.st_mode & 07777, ch ? "errno=" : "ok",
	       ch ? errname(ch) : "", xe ? "errno=" : "ok", xe ? errname(xe) : "");
	return 0;
}
