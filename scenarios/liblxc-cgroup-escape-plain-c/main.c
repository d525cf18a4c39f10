/*
 * The seed's plain-c program (notnoop/libcontainer-lxc-bug): print /proc/self/cgroup. Built
 * twice by test.sh. With -DLINK_LXC a function that is never called refers to liblxc, so the
 * linker must keep the library (an --as-needed link drops a library nothing refers to, as the
 * build without LINK_LXC shows) and the dynamic loader loads it, with its constructors, before
 * main runs. Nothing here calls liblxc.
 */
#include <stdio.h>
#include <stdlib.h>

#include <lxc/lxccontainer.h>

void never_called(void)
{
	printf("never called\n");
#ifdef LINK_LXC
	lxc_attach_run_command(NULL);
#endif
}

int main(void)
{
	char buf[256];
	size_t n;
	FILE *f;

	printf("Hello I am here\n");
	f = fopen("/proc/self/cgroup", "r");
	if (!f) {
		printf("Cannot open file %s\n", "/proc/self/cgroup");
		exit(1);
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (fwrite(buf, 1, n, stdout) != n) {
			fprintf(stderr, "write error\n");
			fclose(f);
			exit(1);
		}
	}
	fclose(f);
	return 0;
}
