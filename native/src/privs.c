/* Capabilities of the agent. A root agent keeps every capability unless told otherwise, and several of them
 * reach outside any sandbox: CAP_MKNOD makes a block device node in a writable directory (a raw write to a
 * whole filesystem), CAP_SYS_ADMIN and CAP_PERFMON let /proc/<pid>/environ and maps of any process be read
 * past Landlock's ptrace scoping (mm_access allows PTRACE_MODE_READ to perfmon_capable callers; measured
 * on Linux 6.18: the read fails with both dropped), CAP_SYS_MODULE loads kernel code, CAP_NET_RAW forges
 * packets, CAP_DAC_READ_SEARCH opens files by handle past every path check.
 *
 * What is kept: Docker's default set minus CAP_MKNOD, CAP_NET_RAW and CAP_AUDIT_WRITE, and minus CAP_SYS_CHROOT (chroot is
 * refused by the filter anyway) and CAP_SETFCAP (file capabilities written on workspace files would raise
 * the privileges of whoever runs them later, outside the gate). The rest is what root-run build tools
 * expect of root: owning and changing modes of any file (CHOWN, DAC_OVERRIDE, FOWNER, FSETID), switching
 * user (SETUID, SETGID; setuid programs still gain nothing under NO_NEW_PRIVS), signalling its own
 * processes (KILL; Landlock scopes signals to the session), binding low ports (NET_BIND_SERVICE; Landlock's
 * port rules still decide) and dropping capabilities itself (SETPCAP). Not AUDIT_WRITE, which Docker keeps: it
 * writes records into the system's audit trail (a forged "op=login res=success", red-team R48), which no build
 * tool needs.
 *
 * For root, execve(2) recomputes the permitted set as the bounding set, so the bounding set is what holds;
 * the other sets are trimmed so that the agent's first program starts without them too. A non-root agent
 * normally has no capabilities and cannot change its bounding set (that needs CAP_SETPCAP): only its
 * ambient and inheritable sets, if any, are cleared. capabilities(7). */
#include "privs.h"
#include "util.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CAP(n) (1ull << (n))

uint64_t privs_kept(void)
{
	return CAP(CAP_CHOWN) | CAP(CAP_DAC_OVERRIDE) | CAP(CAP_FOWNER) | CAP(CAP_FSETID) | CAP(CAP_KILL) |
	       CAP(CAP_SETGID) | CAP(CAP_SETUID) | CAP(CAP_SETPCAP) | CAP(CAP_NET_BIND_SERVICE);
}

int privs_drop(void)
{
	const uint64_t keep = privs_kept();
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];

	/* capget(2): the current sets (two 32-bit words each). */
	if (syscall(__NR_capget, &hdr, data) < 0)
		return -errno;
	uint64_t eff = data[0].effective | (uint64_t)data[1].effective << 32;
	/* prctl(2) PR_CAPBSET_DROP, one capability at a time, up to the kernel's last (EINVAL past it). Needs
	 * CAP_SETPCAP in the effective set: without it (a non-root agent) the bounding set stays as it is. */
	if (eff & CAP(CAP_SETPCAP)) {
		for (int cap = 0; cap < 64; cap++) {
			if (keep & CAP(cap))
				continue;
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
				if (errno == EINVAL)
					break;
				return -errno;
			}
		}
	}
	/* prctl(2) PR_CAP_AMBIENT_CLEAR_ALL (Linux 4.3; EINVAL before: nothing to clear). */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	/* capset(2): keep only the kept ones of what we have; no inheritable capabilities at all. */
	for (int w = 0; w < 2; w++) {
		uint32_t k = (uint32_t)(keep >> (32 * w));
		data[w].effective &= k;
		data[w].permitted &= k;
		data[w].inheritable = 0;
	}
	if (syscall(__NR_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}
