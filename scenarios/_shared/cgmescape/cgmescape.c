/*
 * MODEL of liblxc 1.x/2.x's load-time cgroup escape. Not liblxc code.
 *
 * liblxc 1.x and 2.x (built with cgmanager support) had a constructor,
 * cgroup_ops_init(), that chose the cgmanager driver when the cgmanager
 * daemon answered; cgm_ops_init() then called cgm_escape(), which for a root
 * caller asked cgmanager to move the calling pid to "/" in every controller
 * (MovePidAbs over D-Bus). Any program that merely linked liblxc was moved
 * out of its cgroup when the dynamic loader ran the constructor, and so was
 * every process re-executing such a binary (libcontainer's init re-exec).
 * liblxc 3.0 dropped cgmanager and the escape.
 *
 * Without cgmanager, this model does the same move directly: as root, write
 * getpid() to cgroup.procs at the root of every mounted cgroup hierarchy
 * (each cgroup v1 hierarchy, and the unified cgroup2 one when mounted; the
 * cgroup2 write is the model's "v2 form"). The root is the root seen from the
 * caller's cgroup namespace, which is what cgmanager's "/" meant for a caller
 * in cgmanager's namespace.
 *
 * Once-per-chain mode (for the libcontainer-model-once variant): runc since
 * 1.0.0-rc7 (CVE-2019-5736 fix) makes its init re-execute itself from a
 * memfd copy (nsenter's ensure_cloned_binary), and a re-exec runs every
 * library constructor again, this time after the parent has placed the
 * process in its cgroups. The original report (December 2018) predates
 * that: its init ran the constructor once, racing with the parent. When
 * the file ONCE_FLAG exists, the model acts only in the first image of an
 * exec chain: it marks the environment, which the memfd re-exec passes on
 * (libcontainer gives its init a fresh environment, so each container
 * start begins a new chain).
 *
 * CGM_ESCAPE_TRACE=1 prints what it did to stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#define ONCE_FLAG "/run/reprolab-cgm-escape-once"
#define ONCE_ENV "REPROLAB_CGM_ESCAPED"

static void escape_one(const char *mnt, pid_t pid, int trace)
{
	char path[4096], num[32];
	int fd, len, ok = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", mnt);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		len = snprintf(num, sizeof(num), "%d", (int)pid);
		ok = write(fd, num, len) == len;
		close(fd);
	}
	if (trace)
		fprintf(stderr, "cgm_escape model: pid %d -> %s: %s\n",
			(int)pid, path, ok ? "moved" : "failed");
}

__attribute__((constructor)) static void cgm_escape_model(void)
{
	char line[8192];
	const char *t = getenv("CGM_ESCAPE_TRACE");
	int trace = t && *t == '1';
	pid_t pid = getpid();
	FILE *f;

	/* cgm_escape only acted for root (geteuid() == 0). */
	if (geteuid() != 0)
		return;
	if (access(ONCE_FLAG, F_OK) == 0) {
		if (getenv(ONCE_ENV))
			return;
		setenv(ONCE_ENV, "1", 1);
	}
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* mountinfo: id parent maj:min root mountpoint opts... - fstype src superopts */
		char root[4096], mnt[4096], fstype[64];
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2)
			continue;
		if (sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		if (strcmp(fstype, "cgroup") != 0 && strcmp(fstype, "cgroup2") != 0)
			continue;
		/* Only mounts of a hierarchy's root (bind mounts of sub-cgroups skipped). */
		if (strcmp(root, "/") != 0)
			continue;
		escape_one(mnt, pid, trace);
	}
	fclose(f);
}
