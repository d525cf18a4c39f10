/* openat_leak: the race of golang/go#33405 in C.
 *
 * One thread builds trees of deep chains on a tmpfs and removes them recursively with
 * openat(2) *without* O_CLOEXEC, holding each directory's fd while it descends (as Go 1.12's
 * os.RemoveAll did); many threads posix_spawn `ls -al /proc/self/fd` and look for fd targets
 * under the tree's root. --cloexec adds O_CLOEXEC to the same openat (the fix) for comparison.
 * The last stdout line is the REPROLAB-RESULT verdict.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TMPFS_MAGIC_ 0x01021994
#define MAX_OUT (1 << 20)

extern char **environ;

static struct {
	const char *dir;
	int depth, chains, spawners, max_trees, rates, cloexec, fdopendir;
	double seconds;
} cfg = {"/dev/shm", 150, 4, 100, 100000, 0, 0, 0, 10.0};

static char versions[1200];
static char root[512], prefix[520];
static double t0, deadline;
static volatile int stop;
static volatile int removing; /* 1 while the remover is inside remove_at(): the window that can leak */
static long overlapped;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long trees, children, failed, leak_kids, leaked_fds, max_per_child, leak_trees;
static unsigned char *tree_leaked; /* one flag per tree index */
static long ttd = -1;
static char first_fd[32], first_path[640];
static int first_level = -1, first_count;
static char remove_err[1200];

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* JSON string escaping for the few strings we print (paths, reasons). */
static void jstr(char *dst, size_t n, const char *s)
{
	size_t o = 0;
	dst[o++] = '"';
	for (; *s && o + 8 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = c;
		} else if (c < 0x20) {
			o += snprintf(dst + o, n - o, "\\u%04x", c);
		} else {
			dst[o++] = c;
		}
	}
	dst[o++] = '"';
	dst[o] = 0;
}

static void fail(const char *fmt, ...)
{
	char reason[1300], q[2700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	jstr(q, sizeof q, reason);
	fflush(stdout);
	printf("REPROLAB-RESULT {\"outcome\": \"error\", \"attempts\": 0, \"evidence\": {\"reason\": %s}, \"versions\": %s}\n",
	       q, versions);
	fflush(stdout);
	_exit(1);
}

static char watchdog_line[1500];

static void on_alarm(int sig)
{
	(void)sig;
	ssize_t r = write(1, watchdog_line, strlen(watchdog_line));
	(void)r;
	_exit(1);
}

static void read_first_line(const char *path, const char *key, char *dst, size_t n)
{
	FILE *f = fopen(path, "re");
	char line[512];
	dst[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		if (!key) {
			snprintf(dst, n, "%s", line);
			break;
		}
		if (!strncmp(line, key, strlen(key))) {
			char *v = line + strlen(key);
			if (*v == '"')
				v++;
			v[strcspn(v, "\"")] = 0;
			snprintf(dst, n, "%s", v);
			break;
		}
	}
	fclose(f);
}

/* ---- the remover ---- */

static int build_tree(const char *tree)
{
	char path[4096];
	if (mkdir(tree, 0755) < 0)
		return -1;
	for (int c = 0; c < cfg.chains; c++) {
		int o = snprintf(path, sizeof path, "%s/c%d", tree, c);
		if (mkdir(path, 0755) < 0)
			return -1;
		for (int d = 1; d <= cfg.depth; d++) {
			o += snprintf(path + o, sizeof path - o, "/d%03d", d);
			if (o >= (int)sizeof path - 8) {
				errno = ENAMETOOLONG;
				return -1;
			}
			if (mkdir(path, 0755) < 0) /* path-based: no fd is held while building */
				return -1;
		}
	}
	return 0;
}

/* Names in the directory fd, read with getdents64 as Go's Readdirnames does. Not through
 * fdopendir(3): glibc's fdopendir sets FD_CLOEXEC itself (with fcntl, after the fact), which
 * would shrink the leak to the moment between openat and fdopendir (--reader fdopendir). */
static char **read_names(int fd, DIR **dirp, size_t *count)
{
	size_t cap = 16, n = 0;
	char **names = malloc(cap * sizeof *names);
	*dirp = NULL;
	if (cfg.fdopendir) {
		struct dirent *de;
		if (!(*dirp = fdopendir(fd)))
			goto fail;
		while ((de = readdir(*dirp))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (n == cap)
				names = realloc(names, (cap *= 2) * sizeof *names);
			names[n++] = strdup(de->d_name);
		}
	} else {
		char *buf = malloc(8192);
		long got;
		while ((got = syscall(SYS_getdents64, fd, buf, 8192)) > 0) {
			for (long off = 0; off < got;) {
				struct dirent64 *de = (struct dirent64 *)(buf + off);
				off += de->d_reclen;
				if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
					continue;
				if (n == cap)
					names = realloc(names, (cap *= 2) * sizeof *names);
				names[n++] = strdup(de->d_name);
			}
		}
		free(buf);
		if (got < 0)
			goto fail;
	}
	*count = n;
	return names;
fail:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return NULL;
}

/* Remove name under parentfd: unlink, or open the directory (the fd under test), read its
 * names, recurse into each while it stays open, close, rmdir. */
static int remove_at(int parentfd, const char *name)
{
	if (unlinkat(parentfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM && errno != EACCES)
		return -1;
	int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | (cfg.cloexec ? O_CLOEXEC : 0));
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	DIR *d;
	size_t n = 0;
	char **names = read_names(fd, &d, &n);
	if (!names) {
		if (d)
			closedir(d);
		else
			close(fd);
		return -1;
	}
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (remove_at(fd, names[i]) < 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	if (d)
		closedir(d);
	else
		close(fd);
	if (unlinkat(parentfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

static int stopped(void)
{
	return stop || now() > deadline;
}

static void *remover(void *arg)
{
	(void)arg;
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* the parent, as os.Open */
	if (rootfd < 0) {
		snprintf(remove_err, sizeof remove_err, "open %s: %s", root, strerror(errno));
		stop = 1;
		return NULL;
	}
	for (int i = 0; i < cfg.max_trees && !stopped(); i++) {
		char tree[600], name[16];
		snprintf(name, sizeof name, "t%05d", i);
		snprintf(tree, sizeof tree, "%s/%s", root, name);
		if (i > 0 && build_tree(tree) < 0) { /* the first tree was built before the race */
			snprintf(remove_err, sizeof remove_err, "build %s: %s", tree, strerror(errno));
			break;
		}
		removing = 1;
		int rrc = remove_at(rootfd, name);
		removing = 0;
		if (rrc < 0) {
			snprintf(remove_err, sizeof remove_err, "remove %s: %s", tree, strerror(errno));
			break;
		}
		pthread_mutex_lock(&mu);
		trees++;
		pthread_mutex_unlock(&mu);
	}
	close(rootfd);
	stop = 1;
	return NULL;
}

/* ---- the children ---- */

/* Spawn `ls -al /proc/self/fd` with stdout on a pipe; read it all (bounded by 10 s). */
static int list_fds(char *out, size_t cap, size_t *len)
{
	int p[2];
	pid_t pid;
	posix_spawn_file_actions_t fa;
	char *argv[] = {"ls", "-al", "/proc/self/fd", NULL};
	*len = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	int rc = posix_spawnp(&pid, "ls", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		return -1;
	}
	double end = now() + 10;
	for (;;) {
		struct pollfd pf = {p[0], POLLIN, 0};
		int left = (int)((end - now()) * 1000);
		if (left <= 0 || poll(&pf, 1, left) <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		ssize_t r = read(p[0], out + *len, cap - 1 - *len);
		if (r <= 0)
			break;
		*len += r;
		if (*len >= cap - 1)
			break;
	}
	out[*len] = 0;
	close(p[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* Count fds whose target is under prefix; remember the first one. */
static int leaked(char *out, char *fd0, size_t fdn, char *path0, size_t pathn, long *tree0)
{
	int n = 0;
	char *save = NULL;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *arrow = strstr(line, " -> ");
		if (!arrow || strncmp(arrow + 4, prefix, strlen(prefix)))
			continue;
		if (n == 0) {
			char *e = arrow, *b;
			while (e > line && e[-1] == ' ')
				e--;
			for (b = e; b > line && b[-1] != ' '; b--)
				;
			snprintf(fd0, fdn, "%.*s", (int)(e - b), b);
			snprintf(path0, pathn, "%s", arrow + 4);
			*tree0 = strtol(arrow + 4 + strlen(prefix) + 1, NULL, 10);
		}
		n++;
	}
	return n;
}

static void shorten(const char *path, char *dst, size_t n)
{
	const char *rel = path + strlen(prefix);
	const char *p = rel, *cut3 = NULL;
	int slashes = 0;
	for (; *p; p++)
		if (*p == '/' && ++slashes == 3)
			cut3 = p;
	if (slashes < 5) {
		snprintf(dst, n, "%s", path);
		return;
	}
	const char *tail = path + strlen(path);
	for (int k = 0; k < 2 && tail > rel;)
		if (*--tail == '/')
			k++;
	snprintf(dst, n, "%s%.*s/...%s", prefix, (int)(cut3 - rel), rel, tail);
}

static void *spawner(void *arg)
{
	(void)arg;
	char *out = malloc(MAX_OUT);
	while (!stopped()) {
		size_t len;
		char fd0[32], path0[640];
		long tree0 = -1;
		int during = removing;
		int rc = list_fds(out, MAX_OUT, &len);
		int n = rc == 0 ? leaked(out, fd0, sizeof fd0, path0, sizeof path0, &tree0) : 0;
		pthread_mutex_lock(&mu);
		children++;
		overlapped += during;
		if (rc < 0 || len == 0)
			failed++;
		if (n > 0) {
			leak_kids++;
			leaked_fds += n;
			if (n > max_per_child)
				max_per_child = n;
			if (tree0 >= 0 && tree0 < cfg.max_trees && !tree_leaked[tree0]) {
				tree_leaked[tree0] = 1;
				leak_trees++;
			}
			if (ttd < 0) {
				ttd = (long)((now() - t0) * 1000);
				snprintf(first_fd, sizeof first_fd, "%s", fd0);
				snprintf(first_path, sizeof first_path, "%s", path0);
				first_level = 1; /* path components below the root */
				for (char *c = path0 + strlen(prefix); *c; c++)
					first_level += *c == '/';
				first_count = n;
				char sp[700];
				shorten(path0, sp, sizeof sp);
				printf("leak: after %ld ms a child held %d fds under the tree, e.g. fd %s -> %s\n", ttd, n, fd0, sp);
				fflush(stdout);
				if (!cfg.rates)
					stop = 1;
			}
		}
		pthread_mutex_unlock(&mu);
	}
	free(out);
	return NULL;
}

static int self_test(void)
{
	char canary[600], out[65536], want[700];
	size_t len;
	snprintf(canary, sizeof canary, "%s.canary", root);
	int w = open(canary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w < 0)
		return -1;
	close(w);
	int fd = open(canary, O_RDONLY); /* deliberately inheritable */
	int rc = fd < 0 ? -1 : list_fds(out, sizeof out, &len);
	if (fd >= 0)
		close(fd);
	unlink(canary);
	snprintf(want, sizeof want, " %d -> %s", fd, canary);
	return rc == 0 && strstr(out, want) ? 0 : -1;
}

static void usage_fail(const char *a)
{
	fail("bad argument %s (use --dir D --depth N --chains N --spawners N --seconds S --max-trees N --rates --cloexec --reader getdents|fdopendir)", a);
}

int main(int argc, char **argv)
{
	struct utsname u;
	char osname[512], kernel[256];
	uname(&u);
	snprintf(kernel, sizeof kernel, "%s", u.release);
	read_first_line("/etc/os-release", "PRETTY_NAME=", osname, sizeof osname);
	snprintf(versions, sizeof versions, "{\"glibc\": \"%s\", \"cc\": \"%s\", \"kernel\": \"%s\", \"os\": \"%s\"}",
		 gnu_get_libc_version(), __VERSION__, kernel, osname);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--rates"))
			cfg.rates = 1;
		else if (!strcmp(a, "--cloexec"))
			cfg.cloexec = 1;
		else if (!strcmp(a, "--reader") && v)
			cfg.fdopendir = !strcmp(argv[++i], "fdopendir");
		else if (!strcmp(a, "--mode") && v) /* accepted for symmetry with the Go reproducer */
			cfg.cloexec = !strcmp(argv[++i], "openat-cloexec");
		else if (!strcmp(a, "--dir") && v)
			cfg.dir = argv[++i];
		else if (!strcmp(a, "--depth") && v)
			cfg.depth = atoi(argv[++i]);
		else if (!strcmp(a, "--chains") && v)
			cfg.chains = atoi(argv[++i]);
		else if (!strcmp(a, "--spawners") && v)
			cfg.spawners = atoi(argv[++i]);
		else if (!strcmp(a, "--max-trees") && v)
			cfg.max_trees = atoi(argv[++i]);
		else if (!strcmp(a, "--seconds") && v)
			cfg.seconds = atof(argv[++i]);
		else
			usage_fail(a);
	}
	if (cfg.depth < 1 || cfg.chains < 1 || cfg.spawners < 1 || cfg.max_trees < 1 || cfg.seconds <= 0)
		fail("depth, chains, spawners, seconds and max-trees must be positive");

	snprintf(watchdog_line, sizeof watchdog_line,
		 "REPROLAB-RESULT {\"outcome\": \"error\", \"attempts\": 0, \"evidence\": {\"reason\": \"watchdog: the race did not end in time\"}, \"versions\": %s}\n",
		 versions);
	signal(SIGALRM, on_alarm);
	alarm((unsigned)cfg.seconds + 60);

	struct statfs sf;
	if (statfs(cfg.dir, &sf) < 0)
		fail("tree directory %s: %s", cfg.dir, strerror(errno));
	char fsname[32];
	if ((unsigned long)sf.f_type == TMPFS_MAGIC_)
		snprintf(fsname, sizeof fsname, "tmpfs");
	else
		snprintf(fsname, sizeof fsname, "0x%lx", (unsigned long)sf.f_type);
	snprintf(root, sizeof root, "%s/reprolab-rmtree-%d", cfg.dir, (int)getpid());
	snprintf(prefix, sizeof prefix, "%s/", root);
	if (mkdir(root, 0755) < 0)
		fail("mkdir %s: %s", root, strerror(errno));
	printf("rmtree-cloexec-leak: C recursive openat %s O_CLOEXEC; trees of %d chains x %d levels under %s (%s); %d threads posix_spawn ls -al /proc/self/fd\n",
	       cfg.cloexec ? "with" : "without", cfg.chains, cfg.depth, root, fsname, cfg.spawners);
	if (self_test() < 0) {
		rmdir(root);
		fail("detector self-test: the child did not list a deliberately inherited fd");
	}
	printf("detector self-test: a child saw a deliberately inherited fd\n");
	fflush(stdout);

	tree_leaked = calloc(cfg.max_trees, 1);
	char tree0[600];
	snprintf(tree0, sizeof tree0, "%s/t00000", root);
	if (build_tree(tree0) < 0) /* before the clock starts: time-to-detect measures the race */
		fail("build %s: %s", tree0, strerror(errno));
	t0 = now();
	deadline = t0 + cfg.seconds;
	pthread_t rt, *st = calloc(cfg.spawners, sizeof *st);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&rt, NULL, remover, NULL))
		fail("pthread_create failed");
	int started = 0;
	for (; started < cfg.spawners; started++)
		if (pthread_create(&st[started], &attr, spawner, NULL))
			break;
	if (started == 0)
		fail("cannot start spawner threads");
	pthread_join(rt, NULL);
	for (int i = 0; i < started; i++)
		pthread_join(st[i], NULL);
	double elapsed = now() - t0;

	int rootfd = open(cfg.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const char *base = strrchr(root, '/') + 1;
	int saved = cfg.cloexec;
	cfg.cloexec = 1;
	if (rootfd < 0 || remove_at(rootfd, base) < 0)
		fail("cleanup of %s: %s", root, strerror(errno));
	cfg.cloexec = saved;
	close(rootfd);
	if (remove_err[0])
		fail("%s", remove_err);
	if (children == 0 || failed == children)
		fail("no child listed its fds (%ld spawned, %ld failed)", children, failed);

	double share = (double)leak_kids / children;
	printf("%ld trees removed, %ld children, %ld saw leaked fds (%.2f%%), %ld leaked fds in all, %.1f s\n",
	       trees, children, leak_kids, 100 * share, leaked_fds, elapsed);
	char remover_desc[128], first[1500] = "", qpath[800], qfd[64], short_path[640];
	snprintf(remover_desc, sizeof remover_desc, "C recursive openat(O_RDONLY%s) while descending, names by %s",
		 cfg.cloexec ? "|O_CLOEXEC" : ", no O_CLOEXEC", cfg.fdopendir ? "fdopendir (sets FD_CLOEXEC late)" : "getdents64");
	if (ttd >= 0) {
		shorten(first_path, short_path, sizeof short_path);
		jstr(qpath, sizeof qpath, short_path);
		jstr(qfd, sizeof qfd, first_fd);
		snprintf(first, sizeof first,
			 ", \"first_leak\": {\"fd\": %s, \"path\": %s, \"below_root\": %d, \"fds_in_child\": %d}, \"time_to_detect_ms\": %ld",
			 qfd, qpath, first_level, first_count, ttd);
	}
	char qdir[600];
	jstr(qdir, sizeof qdir, cfg.dir);
	fflush(stdout);
	printf("REPROLAB-RESULT {\"outcome\": \"%s\", \"attempts\": %ld, \"evidence\": {"
	       "\"remover\": \"%s\", \"detector\": \"children exec 'ls -al /proc/self/fd'; a leak is a target under the tree root\", "
	       "\"detector_selftest\": \"ok\", "
	       "\"tree\": {\"depth\": %d, \"chains\": %d, \"dirs\": %d, \"dir\": %s, \"fs\": \"%s\"}, "
	       "\"trees_removed\": %ld, \"trees_with_leak\": %ld, \"spawners\": %d, \"children\": %ld, \"children_while_removing\": %ld, \"children_failed\": %ld, "
	       "\"children_with_leak\": %ld, \"leak_share\": %.4f, \"leaked_fds\": %ld, \"leaked_fds_max_in_child\": %ld, "
	       "\"elapsed_ms\": %ld, \"stop_at_first_leak\": %s%s}, \"versions\": %s}\n",
	       ttd >= 0 ? "reproduced" : "not-reproduced", trees, remover_desc, cfg.depth, cfg.chains, cfg.depth * cfg.chains,
	       qdir, fsname, trees, leak_trees, started, children, overlapped, failed, leak_kids, share, leaked_fds, max_per_child,
	       (long)(elapsed * 1000), cfg.rates ? "false" : "true", first, versions);
	fflush(stdout);
	return 0;
}
