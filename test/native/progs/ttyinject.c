/* Ways to type into a terminal. "RESULT <what> ok|errno=E…" per call:
 *   sti TARGET TEXT [high]   push TEXT byte by byte with ioctl(TIOCSTI) into TARGET: a path (opened
 *                            O_RDWR|O_NOCTTY) or "fd:N"; "high" sets bit 32 of the cmd (the kernel reads an
 *                            unsigned int: a filter comparing 64 bits would miss it)
 *   linux TARGET             ioctl(TIOCLINUX, TIOCL_PASTESEL): paste the console selection as input
 *   sctty TARGET             ioctl(TIOCSCTTY, 1): steal TARGET as controlling terminal
 *   vhangup                  hang up the controlling terminal
 *   stop PGID                kill(-PGID, SIGTSTP): ^Z to another process group
 *   winsize                  print the terminal size of stdin: "RESULT winsize ROWSxCOLS" */
#include "result.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

static int target(const char *t)
{
	if (!strncmp(t, "fd:", 3))
		return atoi(t + 3);
	return open(t, O_RDWR | O_NOCTTY);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *op = argv[1];
	if (!strcmp(op, "vhangup"))
		return syscall(__NR_vhangup) < 0 ? result_errno("vhangup", errno) : result_ok("vhangup");
	if (!strcmp(op, "stop") && argc == 3)
		return kill(-atoi(argv[2]), SIGTSTP) < 0 ? result_errno("stop", errno) : result_ok("stop");
	if (!strcmp(op, "winsize")) {
		struct winsize ws;
		if (ioctl(0, TIOCGWINSZ, &ws) < 0)
			return result_errno("winsize", errno);
		printf("RESULT winsize %ux%u\n", ws.ws_row, ws.ws_col);
		return 0;
	}
	if (argc < 3)
		return 2;
	int fd = target(argv[2]);
	if (fd < 0)
		return result_errno("open", errno);
	if (!strcmp(op, "sti") && argc >= 4) {
		unsigned long cmd = TIOCSTI | (argc > 4 && !strcmp(argv[4], "high") ? 1ul << 32 : 0);
		for (const char *p = argv[3]; *p; p++)
			if (syscall(__NR_ioctl, fd, cmd, p) < 0)
				return result_errno("sti", errno);
		return result_ok("sti");
	}
	if (!strcmp(op, "linux")) {
		char sub = 3; /* TIOCL_PASTESEL */
		return ioctl(fd, TIOCLINUX, &sub) < 0 ? result_errno("linux", errno) : result_ok("linux");
	}
	if (!strcmp(op, "sctty"))
		return ioctl(fd, TIOCSCTTY, 1) < 0 ? result_errno("sctty", errno) : result_ok("sctty");
	return 2;
}
