/*
 * showcg: print this process's cgroup membership, then the shared objects
 * mapped into it whose names mention lxc or the cgm_escape model.
 *
 * Built three times from this one file (see build.sh): unlinked, linked with
 * liblxc, linked with the model library. The program never calls into either
 * library: in the original report merely loading liblxc was enough, because
 * liblxc 1.x/2.x ran a library constructor (cgroup_ops_init -> cgm_ops_init ->
 * cgm_escape) that moved a root process to the root cgroup of every
 * controller. The maps listing proves the library really was loaded.
 */
#include <stdio.h>
#include <string.h>

static int dump(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f) {
		perror(path);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	return 0;
}

static void mapped_libs(void)
{
	char line[4096], last[4096] = "";
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');

		if (!p || (!strstr(p, "/liblxc") && !strstr(p, "/libcgmescape")))
			continue;
		if (strcmp(p, last) == 0)
			continue;
		snprintf(last, sizeof(last), "%s", p);
		printf("mapped: %s", p);
	}
	fclose(f);
}

int main(void)
{
	if (dump("/proc/self/cgroup") < 0)
		return 1;
	mapped_libs();
	return 0;
}
