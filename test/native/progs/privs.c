/* What a root agent may still do to the machine. Each subcommand makes one real call and prints
 * "RESULT <name> ok" or "RESULT <name> errno=E…":
 *   caps                      the effective and bounding capability sets
 *   sys NAME…                 dangerous syscalls, each with harmless arguments (see below)
 *   rawdev PATH MAJ MIN TEXT  mknod a block device node at PATH, open it and write TEXT at offset 0
 *   write PATH TEXT           open PATH for writing and write TEXT (no O_TRUNC, no O_CREAT) */
#include "result.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static long sys_one(const char *name)
{
	if (!strcmp(name, "bpf")) {
		/* Load a one-instruction socket filter: "return 0". */
		struct bpf_insn prog[] = { { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
					   { .code = BPF_JMP | BPF_EXIT } };
		union bpf_attr attr;
		memset(&attr, 0, sizeof(attr));
		attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
		attr.insn_cnt = 2;
		attr.insns = (unsigned long)prog;
		attr.license = (unsigned long)"GPL";
		return syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	}
	if (!strcmp(name, "perf_event_open")) {
		/* System-wide: every process on CPU 0. */
		struct perf_event_attr a;
		memset(&a, 0, sizeof(a));
		a.size = sizeof(a);
		a.type = PERF_TYPE_SOFTWARE;
		a.config = PERF_COUNT_SW_CPU_CLOCK;
		return syscall(__NR_perf_event_open, &a, -1, 0, -1, 0);
	}
	if (!strcmp(name, "userfaultfd"))
		return syscall(__NR_userfaultfd, O_CLOEXEC);
	if (!strcmp(name, "unshare_user") || !strcmp(name, "unshare_net") || !strcmp(name, "clone_newns")) {
		/* In a child, so that a success changes nothing here. */
		pid_t pid = !strcmp(name, "clone_newns") ? (pid_t)syscall(__NR_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0)
							 : fork();
		if (pid < 0)
			return -1;
		if (pid == 0) {
			if (!strcmp(name, "clone_newns"))
				_exit(0);
			_exit(unshare(!strcmp(name, "unshare_user") ? CLONE_NEWUSER : CLONE_NEWNET) < 0 ? errno : 0);
		}
		int st;
		waitpid(pid, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st)) {
			errno = WEXITSTATUS(st);
			return -1;
		}
		return 0;
	}
	if (!strcmp(name, "clone3"))
		return syscall(__NR_clone3, NULL, 0);
	if (!strcmp(name, "setns"))
		return syscall(__NR_setns, -1, 0);
	if (!strcmp(name, "mount"))
		return mount("none", "/nonexistent-agent-gate", "tmpfs", 0, NULL);
	if (!strcmp(name, "keyctl"))
		return syscall(__NR_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* KEY_SPEC_SESSION_KEYRING */, 0);
	if (!strcmp(name, "add_key"))
		return syscall(__NR_add_key, "user", "agent-gate-test", "x", 1, -2 /* KEY_SPEC_PROCESS_KEYRING */);
	if (!strcmp(name, "kexec_load"))
		return syscall(__NR_kexec_load, 0, 0, NULL, 0);
	if (!strcmp(name, "init_module"))
		return syscall(__NR_init_module, NULL, 0, "");
	if (!strcmp(name, "delete_module"))
		return syscall(__NR_delete_module, "agent_gate_no_such_module", O_NONBLOCK);
	if (!strcmp(name, "iopl"))
		return syscall(__NR_iopl, 0);
	if (!strcmp(name, "personality"))
		return personality(ADDR_NO_RANDOMIZE) < 0 ? -1 : (personality(PER_LINUX), 0);
	if (!strcmp(name, "swapon"))
		return syscall(__NR_swapon, "/nonexistent-agent-gate", 0);
	if (!strcmp(name, "reboot"))
		return syscall(__NR_reboot, 0, 0, 0, NULL); /* bad magic: EINVAL without the filter */
	if (!strcmp(name, "settimeofday"))
		return syscall(__NR_settimeofday, NULL, NULL); /* nothing to set: 0 without the filter */
	if (!strcmp(name, "clock_settime"))
		return syscall(__NR_clock_settime, CLOCK_REALTIME, NULL);
	if (!strcmp(name, "syslog"))
		return syscall(__NR_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	if (!strcmp(name, "open_by_handle_at"))
		return syscall(__NR_open_by_handle_at, -1, NULL, 0);
	if (!strcmp(name, "kcmp"))
		return syscall(__NR_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, 0, 0);
	if (!strcmp(name, "vhangup"))
		return syscall(__NR_vhangup);
	errno = EINVAL;
	return -2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "caps")) {
		char buf[4096];
		int fd = open("/proc/self/status", O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (n < 0)
			return result_errno("caps", errno);
		buf[n] = '\0';
		char *eff = strstr(buf, "CapEff:"), *bnd = strstr(buf, "CapBnd:");
		printf("RESULT caps eff=%llx bnd=%llx\n", eff ? strtoull(eff + 7, NULL, 16) : 0ull,
		       bnd ? strtoull(bnd + 7, NULL, 16) : 0ull);
		return 0;
	}
	if (!strcmp(argv[1], "sys")) {
		for (int i = 2; i < argc; i++) {
			long r = sys_one(argv[i]);
			if (r == -2) {
				printf("RESULT %s unknown\n", argv[i]);
				continue;
			}
			if (r < 0)
				result_errno(argv[i], errno);
			else
				result_ok(argv[i]);
		}
		return 0;
	}
	if (!strcmp(argv[1], "rawdev") && argc == 6) {
		if (mknod(argv[2], S_IFBLK | 0600, makedev(atoi(argv[3]), atoi(argv[4]))) < 0)
			return result_errno("mknod", errno);
		result_ok("mknod");
		int fd = open(argv[2], O_RDWR);
		if (fd < 0)
			return result_errno("open", errno);
		ssize_t n = pwrite(fd, argv[5], strlen(argv[5]), 0);
		if (n < 0)
			return result_errno("write", errno);
		fsync(fd);
		return result_ok("write");
	}
	if (!strcmp(argv[1], "write") && argc == 4) {
		int fd = open(argv[2], O_WRONLY);
		if (fd < 0)
			return result_errno("open", errno);
		if (write(fd, argv[3], strlen(argv[3])) < 0)
			return result_errno("write", errno);
		return result_ok("write");
	}
	return 2;
}
