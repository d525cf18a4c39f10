/*
 * MODEL of liblxc 1.0.x's daemonized start (lxcapi_start with daemonize set), not the real library.
 *
 * liblxc 1.0 forks, forks again so the monitor is reparented to init, chdir("/")s, replaces fds 0-2
 * with /dev/null, setsid()s and runs the container monitor in that grandchild. It never execs and
 * never closes the other inherited fds, so O_CLOEXEC does not help: every pipe the calling process
 * had open at fork time - including pipes other threads were creating at that moment - stays open
 * in the monitor for the container's lifetime, and a reader waiting for EOF on such a pipe hangs.
 * liblxc 1.1.0 added lxc_check_inherited() in the daemonized child, closing them.
 *
 * Modes (one per scenario variant):
 *   model-1.0    the 1.0.x path: fork, fork, keep inherited fds          -> leaks
 *   fork-exec    the daemonized child execs the monitor: CLOEXEC applies -> no leak
 *   close-range  the daemonized child closes fds >= 3 first (as >= 1.1) -> no leak
 *   fix-reexec   the fix the go-lxc #66 report proposes: re-exec /proc/self/exe and run the
 *                unchanged 1.0 daemonize from that clean child          -> no leak
 *
 * Each attempt: threads churn pipe2(O_CLOEXEC) (a rolling pool each) beside a few long-lived
 * "pinned" pipes; the main thread "starts the container"; when start returns, the pipe inodes held by
 * every process the start forked are intersected with the inodes this process created; then the
 * symptom is tested: close a write end and wait, bounded, for EOF on the read end.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

#define MAX_THREADS 16
#define NPINNED 4

static const char *mode = "model-1.0";
static int attempts_max = 20, run_all = 0, nthreads = 2, pool_size = 256, eof_wait_ms = 300;

/* ---- bookkeeping of the pipe inodes this process created ---- */
struct rec { unsigned long ino; unsigned char kind; }; /* kind: 1 pinned, 2 churn before start, 3 churn during start */
static struct rec *recs;
static size_t nrecs, caprecs;
static pthread_mutex_t rec_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int phase;   /* 0 before start, 1 during start, 2 stop churning */
static atomic_long churned;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static unsigned long fd_ino(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

static void record(unsigned long ino, unsigned char kind)
{
	pthread_mutex_lock(&rec_mu);
	if (nrecs == caprecs) {
		caprecs = caprecs ? caprecs * 2 : 65536;
		recs = realloc(recs, caprecs * sizeof(*recs));
		if (!recs) { perror("realloc"); exit(3); }
	}
	recs[nrecs].ino = ino;
	recs[nrecs].kind = kind;
	nrecs++;
	pthread_mutex_unlock(&rec_mu);
}

static int cmp_rec(const void *a, const void *b)
{
	unsigned long x = ((const struct rec *)a)->ino, y = ((const struct rec *)b)->ino;
	return x < y ? -1 : x > y;
}

static const struct rec *lookup(unsigned long ino)
{
	struct rec key = { ino, 0 };
	return bsearch(&key, recs, nrecs, sizeof(*recs), cmp_rec);
}

struct churner { pthread_t th; int (*pool)[2]; int n, head; };
static struct churner churners[MAX_THREADS];

static void *churn(void *arg)
{
	struct churner *c = arg;
	while (atomic_load(&phase) < 2) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0) { usleep(1000); continue; }
		record(fd_ino(p[0]), atomic_load(&phase) == 1 ? 3 : 2);
		atomic_fetch_add(&churned, 1);
		if (c->n == pool_size) {
			close(c->pool[c->head][0]);
			close(c->pool[c->head][1]);
			c->pool[c->head][0] = p[0];
			c->pool[c->head][1] = p[1];
			c->head = (c->head + 1) % pool_size;
		} else {
			c->pool[c->n][0] = p[0];
			c->pool[c->n][1] = p[1];
			c->n++;
		}
	}
	return NULL;
}

/* ---- the modelled container start ---- */

/* What lxc_start does in the monitor: clone and exec the container's init, report, then wait on it. */
static void monitor_main(int notify)
{
	prctl(PR_SET_NAME, "lxc-monitor", 0, 0, 0);
	pid_t init = fork();
	if (init == 0) {
		execl("/bin/sleep", "sleep", "600", (char *)NULL);
		_exit(127);
	}
	char msg[64];
	int len = snprintf(msg, sizeof(msg), "%d %d\n", (int)getpid(), (int)init);
	if (write(notify, msg, len) != len) _exit(1);
	close(notify);
	while (waitpid(init, NULL, 0) < 0 && errno == EINTR)
		;
	_exit(0);
}

static int close_range_from(unsigned int first)
{
	if (syscall(SYS_close_range, first, ~0U, 0) == 0)
		return 0;
	/* Kernels before 5.9: close what /proc/self/fd lists (collect first, then close). */
	int fds[65536], n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d) return -1;
	struct dirent *e;
	while ((e = readdir(d)) && n < 65536) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd >= (int)first && fd != dirfd(d))
			fds[n++] = fd;
	}
	closedir(d);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	return 1;
}

/* The 1.0.x daemonize, continued in the forked child. Never returns. */
static void daemonized_child(int notify, const char *how)
{
	pid_t pid = fork(); /* second fork to be reparented by init */
	if (pid < 0) _exit(1);
	if (pid != 0) _exit(0);
	if (chdir("/")) _exit(1);
	close(0); close(1); close(2);
	open("/dev/null", O_RDONLY);
	open("/dev/null", O_RDWR);
	open("/dev/null", O_RDWR);
	setsid();
	if (strcmp(how, "close-range") == 0) {
		/* liblxc >= 1.1: lxc_check_inherited() closes every inherited fd but its own. */
		if (dup2(notify, 3) < 0) _exit(1);
		notify = 3;
		close_range_from(4);
	} else if (strcmp(how, "fork-exec") == 0) {
		char fdstr[16];
		snprintf(fdstr, sizeof(fdstr), "%d", notify);
		fcntl(notify, F_SETFD, 0);
		execl("/proc/self/exe", "lxc-fd-race-model", "--monitor", fdstr, (char *)NULL);
		_exit(127);
	}
	monitor_main(notify);
}

/* Start returns when the monitor reported init's pid (the RUNNING state), like wait_on_daemonized_start. */
static int model_start(pid_t *monitor, pid_t *init)
{
	int st[2];
	if (pipe2(st, O_CLOEXEC) < 0) return -1;
	pid_t pid = fork();
	if (pid < 0) return -1;
	if (pid == 0) {
		close(st[0]);
		if (strcmp(mode, "fix-reexec") == 0) {
			/* Exec first: the new image holds only fds 0-2 and the state pipe. */
			char fdstr[16];
			snprintf(fdstr, sizeof(fdstr), "%d", st[1]);
			fcntl(st[1], F_SETFD, 0);
			execl("/proc/self/exe", "lxc-fd-race-model", "--clean-start", fdstr, (char *)NULL);
			_exit(127);
		}
		daemonized_child(st[1], mode);
	}
	close(st[1]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	char buf[64] = {0};
	struct pollfd pfd = { st[0], POLLIN, 0 };
	int ok = poll(&pfd, 1, 5000) == 1 && read(st[0], buf, sizeof(buf) - 1) > 0
		 && sscanf(buf, "%d %d", (int *)monitor, (int *)init) == 2;
	close(st[0]);
	return ok ? 0 : -1;
}

/* ---- observation through /proc ---- */

/* Forked by this process, directly or not: walk the parent chain. We are a child subreaper, so the
 * double-forked monitor is reparented to us and stays in our tree. */
static int is_descendant(pid_t pid)
{
	pid_t self = getpid(), p = pid;
	for (int depth = 0; p > 1 && depth < 64; depth++) {
		char path[64], buf[512];
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)p);
		FILE *f = fopen(path, "r");
		if (!f) return 0;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
		char *r = strrchr(buf, ')');
		int ppid;
		if (!r || sscanf(r + 2, "%*c %d", &ppid) != 1) return 0;
		if (ppid == self) return 1;
		p = ppid;
	}
	return 0;
}

struct scan {
	int procs, leaked, leaked_pinned, leaked_during_start, leaked_held;
	int first_pid;
	char first_comm[32];
	unsigned long examples[4];
	int nexamples;
	unsigned long held_leak_ino; /* a leaked inode the parent still holds, for the EOF test */
};

static int parent_holds(unsigned long ino, int *rfd, int *wfd);

static void scan_children(struct scan *s)
{
	memset(s, 0, sizeof(*s));
	DIR *d = opendir("/proc");
	if (!d) return;
	struct dirent *e;
	while ((e = readdir(d))) {
		pid_t pid = atoi(e->d_name);
		if (pid <= 0 || !is_descendant(pid)) continue;
		char path[64], link[64];
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		DIR *fdd = opendir(path);
		if (!fdd) continue;
		s->procs++;
		int leaked_here = 0;
		struct dirent *fe;
		while ((fe = readdir(fdd))) {
			if (fe->d_name[0] == '.') continue;
			char fp[320];
			snprintf(fp, sizeof(fp), "%s/%s", path, fe->d_name);
			ssize_t n = readlink(fp, link, sizeof(link) - 1);
			if (n <= 0) continue;
			link[n] = 0;
			unsigned long ino;
			if (sscanf(link, "pipe:[%lu]", &ino) != 1) continue;
			const struct rec *r = lookup(ino);
			if (!r) continue;
			s->leaked++;
			leaked_here++;
			if (r->kind == 1) s->leaked_pinned++;
			if (r->kind == 3) s->leaked_during_start++;
			int rfd, wfd;
			if (parent_holds(ino, &rfd, &wfd)) {
				s->leaked_held++;
				if (!s->held_leak_ino) s->held_leak_ino = ino;
			}
			int dup = 0;
			for (int i = 0; i < s->nexamples; i++) dup |= s->examples[i] == ino;
			if (!dup && s->nexamples < 4) s->examples[s->nexamples++] = ino;
		}
		closedir(fdd);
		if (leaked_here && !s->first_pid) {
			s->first_pid = pid;
			snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
			FILE *f = fopen(path, "r");
			if (f) {
				if (fgets(s->first_comm, sizeof(s->first_comm), f))
					s->first_comm[strcspn(s->first_comm, "\n")] = 0;
				fclose(f);
			}
		}
	}
	closedir(d);
}

static int pinned[NPINNED][2];

/* The pipes this process holds once churning stopped, sorted by inode for the scan. */
struct held { unsigned long ino; int rfd, wfd; };
static struct held *helds;
static size_t nhelds;

static int cmp_held(const void *a, const void *b)
{
	unsigned long x = ((const struct held *)a)->ino, y = ((const struct held *)b)->ino;
	return x < y ? -1 : x > y;
}

static void collect_held(void)
{
	nhelds = 0;
	helds = realloc(helds, (NPINNED + (size_t)nthreads * pool_size) * sizeof(*helds));
	for (int i = 0; i < NPINNED; i++)
		helds[nhelds++] = (struct held){ fd_ino(pinned[i][0]), pinned[i][0], pinned[i][1] };
	for (int t = 0; t < nthreads; t++)
		for (int i = 0; i < churners[t].n; i++)
			helds[nhelds++] = (struct held){ fd_ino(churners[t].pool[i][0]), churners[t].pool[i][0], churners[t].pool[i][1] };
	qsort(helds, nhelds, sizeof(*helds), cmp_held);
}

/* Is a pipe with this inode open here? Fills its read/write fds. */
static int parent_holds(unsigned long ino, int *rfd, int *wfd)
{
	struct held key = { ino, -1, -1 };
	struct held *h = bsearch(&key, helds, nhelds, sizeof(*helds), cmp_held);
	*rfd = h ? h->rfd : -1;
	*wfd = h ? h->wfd : -1;
	return h != NULL;
}

/* The symptom: close our write end, then wait (bounded) for EOF. Returns ms waited; *eof set. */
static double eof_test(int rfd, int wfd, int *eof)
{
	close(wfd);
	double t0 = now_ms();
	struct pollfd pfd = { rfd, POLLIN, 0 };
	*eof = 0;
	if (poll(&pfd, 1, eof_wait_ms) == 1) {
		char c;
		*eof = read(rfd, &c, 1) == 0;
	}
	return now_ms() - t0;
}

static void reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(int argc, char **argv)
{
	/* Internal entry points reached through /proc/self/exe. */
	if (argc == 3 && strcmp(argv[1], "--monitor") == 0)
		monitor_main(atoi(argv[2]));
	if (argc == 3 && strcmp(argv[1], "--clean-start") == 0) {
		/* fix-reexec: run the unchanged 1.0 daemonize, then leave as the first child would. */
		pid_t pid = fork();
		if (pid == 0) daemonized_child(atoi(argv[2]), "model-1.0");
		int status = 1;
		if (pid > 0) waitpid(pid, &status, 0);
		_exit(status != 0);
	}

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mode") && i + 1 < argc) mode = argv[++i];
		else if (!strcmp(argv[i], "--attempts") && i + 1 < argc) attempts_max = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--all")) run_all = 1;
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc) nthreads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--pool") && i + 1 < argc) pool_size = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--eof-wait-ms") && i + 1 < argc) eof_wait_ms = atoi(argv[++i]);
		else {
			printf("REPROLAB-RESULT {\"outcome\": \"error\", \"attempts\": 0, \"evidence\": {\"reason\": \"bad argument\"}, \"versions\": {}}\n");
			return 2;
		}
	}
	if (strcmp(mode, "model-1.0") && strcmp(mode, "fork-exec") && strcmp(mode, "close-range") && strcmp(mode, "fix-reexec")) {
		printf("REPROLAB-RESULT {\"outcome\": \"error\", \"attempts\": 0, \"evidence\": {\"reason\": \"unknown mode\"}, \"versions\": {}}\n");
		return 2;
	}
	if (nthreads < 1) nthreads = 1;
	if (nthreads > MAX_THREADS) nthreads = MAX_THREADS;
	if (pool_size < 1) pool_size = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Orphaned monitors are reparented to us (not to whatever pid 1 is), so we can reap them. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

	struct utsname u;
	uname(&u);
	printf("MODEL of liblxc 1.0.x daemonized start, mode %s: %d churn threads x %d pipes, %d pinned pipes\n",
	       mode, nthreads, pool_size, NPINNED);

	double t_begin = now_ms(), ttd = -1, start_ms_sum = 0;
	int attempt = 0, detections = 0, hangs = 0, eofs = 0, start_failures = 0;
	long churn_total = 0, during_total = 0;
	struct scan first = {0}, last = {0};
	int first_eof = -1;
	double first_wait = 0;

	for (attempt = 1; attempt <= attempts_max; attempt++) {
		nrecs = 0;
		atomic_store(&phase, 0);
		atomic_store(&churned, 0);
		for (int i = 0; i < NPINNED; i++) {
			if (pipe2(pinned[i], O_CLOEXEC) < 0) { perror("pipe2"); return 3; }
			record(fd_ino(pinned[i][0]), 1);
		}
		for (int t = 0; t < nthreads; t++) {
			churners[t].pool = calloc(pool_size, sizeof(int[2]));
			churners[t].n = churners[t].head = 0;
			pthread_create(&churners[t].th, NULL, churn, &churners[t]);
		}
		usleep(20000); /* let the pools fill */
		long before = atomic_load(&churned);
		atomic_store(&phase, 1);
		pid_t monitor = 0, init = 0;
		double t0 = now_ms();
		int rc = model_start(&monitor, &init);
		double t1 = now_ms();
		long during = atomic_load(&churned) - before;
		atomic_store(&phase, 2);
		for (int t = 0; t < nthreads; t++)
			pthread_join(churners[t].th, NULL);
		start_ms_sum += t1 - t0;
		churn_total += atomic_load(&churned);
		during_total += during;
		if (rc < 0) {
			start_failures++;
			printf("attempt %d: start failed\n", attempt);
		}

		qsort(recs, nrecs, sizeof(*recs), cmp_rec);
		collect_held();
		struct scan s;
		scan_children(&s);
		int rfd, wfd, eof = -1;
		double waited = 0;
		if (!(s.held_leak_ino && parent_holds(s.held_leak_ino, &rfd, &wfd))) {
			rfd = pinned[0][0];
			wfd = pinned[0][1];
		}
		waited = eof_test(rfd, wfd, &eof);
		/* eof_test closed wfd: forget it so the clean-up does not close it twice. */
		for (int i = 0; i < NPINNED; i++) if (pinned[i][1] == wfd) pinned[i][1] = -1;
		for (int t = 0; t < nthreads; t++)
			for (int i = 0; i < churners[t].n; i++) if (churners[t].pool[i][1] == wfd) churners[t].pool[i][1] = -1;
		if (eof) eofs++; else hangs++;
		printf("attempt %d: start %.1f ms (%ld pipes created during it), monitor %d init %d; "
		       "%d forked processes hold %d of our pipe fds (%d pinned, %d created during start, %d still held by us); "
		       "EOF after closing write end: %s (%.0f ms)\n",
		       attempt, t1 - t0, during, (int)monitor, (int)init, s.procs, s.leaked, s.leaked_pinned,
		       s.leaked_during_start, s.leaked_held, eof ? "yes" : "NO, reader would hang", waited);
		last = s;
		if (s.leaked > 0) {
			if (!detections) {
				first = s;
				ttd = now_ms() - t_begin;
				first_eof = eof;
				first_wait = waited;
				printf("Found intersecting inodes:");
				for (int i = 0; i < s.nexamples; i++) printf(" %lu", s.examples[i]);
				printf(" (in pid %d, %s)\n*** inode race detected after %d attempts\n", s.first_pid, s.first_comm, attempt);
			}
			detections++;
		}

		/* Stop the "container" and close everything of this attempt. */
		if (init > 0) kill(init, SIGKILL);
		if (monitor > 0) kill(monitor, SIGKILL);
		for (int i = 0; i < 50 && monitor > 0 && kill(monitor, 0) == 0; i++) {
			reap();
			usleep(2000);
		}
		reap();
		for (int i = 0; i < NPINNED; i++) {
			close(pinned[i][0]);
			if (pinned[i][1] >= 0) close(pinned[i][1]);
		}
		for (int t = 0; t < nthreads; t++) {
			for (int i = 0; i < churners[t].n; i++) {
				close(churners[t].pool[i][0]);
				if (churners[t].pool[i][1] >= 0) close(churners[t].pool[i][1]);
			}
			free(churners[t].pool);
			churners[t].n = 0;
		}
		if (detections && !run_all) break;
	}
	if (attempt > attempts_max) attempt = attempts_max;

	const char *outcome = detections ? "reproduced" : (start_failures == attempt ? "error" : "not-reproduced");
	struct scan *ev = detections ? &first : &last;
	char ttd_text[32] = "null";
	if (ttd >= 0) snprintf(ttd_text, sizeof(ttd_text), "%.0f", ttd);
	printf("REPROLAB-RESULT {\"outcome\": \"%s\", \"attempts\": %d, \"evidence\": {"
	       "\"model\": \"liblxc 1.0.x daemonized start\", \"mode\": \"%s\", \"detections\": %d, "
	       "\"time_to_detect_ms\": %s, \"forked_processes\": %d, \"intersecting_fds\": %d, "
	       "\"intersecting_pinned\": %d, \"intersecting_created_during_start\": %d, \"intersecting_still_held\": %d, "
	       "\"example_inodes\": [",
	       outcome, attempt, mode, detections, ttd_text, ev->procs, ev->leaked, ev->leaked_pinned,
	       ev->leaked_during_start, ev->leaked_held);
	for (int i = 0; i < ev->nexamples; i++) printf("%s%lu", i ? ", " : "", ev->examples[i]);
	printf("], \"holder\": \"%s\", \"eof_hangs\": %d, \"eofs\": %d, \"first_eof\": %s, \"first_eof_wait_ms\": %.0f, "
	       "\"eof_wait_limit_ms\": %d, \"pipes_churned\": %ld, \"pipes_created_during_start\": %ld, "
	       "\"mean_start_ms\": %.1f, \"start_failures\": %d}, "
	       "\"versions\": {\"model\": \"liblxc-1.0.x daemonize path\", \"kernel\": \"%s\"}}\n",
	       ev->first_comm, hangs, eofs, first_eof < 0 ? "null" : (first_eof ? "true" : "false"), first_wait,
	       eof_wait_ms, churn_total, during_total, start_ms_sum / attempt, start_failures, u.release);
	return 0;
}
