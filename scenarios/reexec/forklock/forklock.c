/*
 * forklock: fork(2) in a multithreaded process copies only the calling thread.
 *
 * A helper thread holds a mutex while the main thread forks. In the parent the helper then
 * releases it; in the child the mutex is a byte-for-byte copy that says "locked by a thread
 * that does not exist here", so pthread_mutex_lock() in the child blocks forever. This is the
 * hazard behind "fork(2) is not enough" for Go (the runtime always has several threads) and the
 * reason reexec/nsenter exist. The parent detects the deadlock with a bounded wait, records
 * where the child sleeps, kills it and reaps it: the run never hangs.
 *
 *   forklock --mode fork-in-threads   child takes the copied lock      -> deadlock expected
 *   forklock --mode fork-exec         child execs first (fresh memory) -> no deadlock (control)
 *
 * Prints progress lines and, last, the REPROLAB-RESULT verdict line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int held_pipe[2];    /* holder -> main: "I hold the lock" */
static int release_pipe[2]; /* main -> holder: "release it now" */

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int threads_of(const char *status_path)
{
	char line[256];
	int n = -1;
	FILE *f = fopen(status_path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static void read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);
	if (fd >= 0)
		close(fd);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

static void *holder(void *arg)
{
	char c = 'h';
	(void)arg;
	pthread_mutex_lock(&lock);
	if (write(held_pipe[1], &c, 1) != 1)
		_exit(3);
	if (read(release_pipe[0], &c, 1) != 1) /* hold the lock until main has forked */
		_exit(3);
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* Runs in the exec'd control child: fresh memory, so this process's own lock is free. */
static int take_lock_and_report(int fd)
{
	char msg[64];
	int n = snprintf(msg, sizeof msg, "threads=%d\n", threads_of("/proc/self/status"));
	if (write(fd, msg, n) != n)
		return 3;
	pthread_mutex_lock(&lock);
	if (write(fd, "locked\n", 7) != 7)
		return 3;
	pthread_mutex_unlock(&lock);
	return 0;
}

struct attempt {
	int deadlocked;       /* child still blocked after the bounded wait */
	int child_locked;     /* child reported it got the lock */
	int child_threads;    /* threads in the child right after fork/exec */
	int parent_threads;   /* threads in the parent at fork time */
	int parent_relocked;  /* parent took and released the lock after the holder released it */
	char state[8];        /* child's /proc state letter when the wait ran out */
	char wchan[64];       /* where the child sleeps (kernel symbol or 0 if hidden) */
	char syscall[32];     /* first field of /proc/PID/syscall: 202 = futex on x86_64 */
	int exit_status;      /* raw wait status */
	double ms;            /* time until the child finished, or the wait ran out */
};

static int one_attempt(const char *self, int do_exec, int timeout_ms, struct attempt *a)
{
	pthread_t t;
	char c, buf[256];
	int report[2];
	pid_t pid;
	size_t got = 0;
	double t0, waited;

	memset(a, 0, sizeof *a);
	a->child_threads = -1;
	if (pipe2(held_pipe, O_CLOEXEC) || pipe2(release_pipe, O_CLOEXEC) || pipe(report))
		return -1;
	if (pthread_create(&t, NULL, holder, NULL))
		return -1;
	if (read(held_pipe[0], &c, 1) != 1)
		return -1;
	a->parent_threads = threads_of("/proc/self/status");

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(report[0]);
		if (do_exec) {
			char fdarg[16];
			snprintf(fdarg, sizeof fdarg, "%d", report[1]);
			execl(self, self, "--take-lock", fdarg, (char *)NULL);
			_exit(127);
		}
		/* The copy of the mutex still says "owned by the holder thread", which was not copied. */
		int n = snprintf(buf, sizeof buf, "threads=%d\n", threads_of("/proc/self/status"));
		if (write(report[1], buf, n) != n)
			_exit(3);
		pthread_mutex_lock(&lock);
		if (write(report[1], "locked\n", 7) != 7)
			_exit(3);
		_exit(0);
	}
	close(report[1]);
	t0 = now_ms();

	/* The parent's holder releases the lock right after the fork: the parent can lock again. */
	c = 'r';
	if (write(release_pipe[1], &c, 1) != 1)
		return -1;
	pthread_join(t, NULL);
	if (pthread_mutex_lock(&lock) == 0) {
		a->parent_relocked = 1;
		pthread_mutex_unlock(&lock);
	}
	close(held_pipe[0]); close(held_pipe[1]);
	close(release_pipe[0]); close(release_pipe[1]);

	/* Bounded wait for the child's report and exit. */
	for (;;) {
		struct pollfd p = { .fd = report[0], .events = POLLIN };
		int left = timeout_ms - (int)(now_ms() - t0);
		int r, st;
		if (left <= 0)
			break;
		r = poll(&p, 1, left > 50 ? 50 : left);
		if (r > 0) {
			ssize_t n = read(report[0], buf + got, sizeof buf - 1 - got);
			if (n > 0) {
				got += n;
				buf[got] = 0;
			}
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			ssize_t n;
			while ((n = read(report[0], buf + got, sizeof buf - 1 - got)) > 0)
				got += n;
			buf[got] = 0;
			a->exit_status = st;
			pid = 0;
			break;
		}
	}
	waited = now_ms() - t0;
	a->ms = waited;
	buf[got] = 0;
	sscanf(buf, "threads=%d", &a->child_threads);
	a->child_locked = strstr(buf, "locked\n") != NULL;
	if (pid > 0) {
		char path[64];
		a->deadlocked = 1;
		snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
		read_small(path, buf, sizeof buf);
		{
			char *rp = strrchr(buf, ')');
			snprintf(a->state, sizeof a->state, "%c", rp && rp[1] ? rp[2] : '?');
		}
		snprintf(path, sizeof path, "/proc/%d/wchan", (int)pid);
		read_small(path, a->wchan, sizeof a->wchan);
		snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
		read_small(path, buf, sizeof buf);
		buf[strcspn(buf, " ")] = 0;
		snprintf(a->syscall, sizeof a->syscall, "%.31s", buf);
		kill(pid, SIGKILL);
		waitpid(pid, &a->exit_status, 0);
	}
	close(report[0]);
	return 0;
}

static void json_str(char *out, size_t len, const char *s)
{
	size_t j = 0;
	for (; *s && j + 2 < len; s++)
		if (*s >= 0x20 && *s != '"' && *s != '\\')
			out[j++] = *s;
	out[j] = 0;
}

int main(int argc, char **argv)
{
	const char *mode = "fork-in-threads";
	int attempts = 3, timeout_ms = 2000, all = 0, i, detected = 0, done = 0, clean = 0;
	double first_ms = -1;
	struct attempt a, first = { 0 };
	struct utsname u;
	char self[4096], wchan[64], kernel[128];
	ssize_t n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "--take-lock"))
		return take_lock_and_report(atoi(argv[2]));
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mode") && i + 1 < argc)
			mode = argv[++i];
		else if (!strcmp(argv[i], "--attempts") && i + 1 < argc)
			attempts = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc)
			timeout_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--all"))
			all = 1;
	}
	uname(&u);
	json_str(kernel, sizeof kernel, u.release);
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0 || (strcmp(mode, "fork-in-threads") && strcmp(mode, "fork-exec")) || attempts < 1) {
		printf("REPROLAB-RESULT {\"outcome\": \"error\", \"attempts\": 0, \"evidence\": {\"reason\": "
		       "\"bad arguments or no /proc/self/exe\"}, \"versions\": {\"kernel\": \"%s\"}}\n", kernel);
		return 1;
	}
	self[n] = 0;
	int do_exec = !strcmp(mode, "fork-exec");
	printf("forklock: mode %s, %d attempt(s), bounded wait %d ms per child\n", mode, attempts, timeout_ms);
	for (i = 0; i < attempts; i++) {
		if (one_attempt(self, do_exec, timeout_ms, &a) < 0) {
			printf("REPROLAB-RESULT {\"outcome\": \"error\", \"attempts\": %d, \"evidence\": {\"reason\": "
			       "\"setup failed: %s\"}, \"versions\": {\"kernel\": \"%s\"}}\n", i + 1, strerror(errno), kernel);
			return 1;
		}
		done++;
		printf("attempt %d: parent threads %d, child threads %d, parent re-locked %d, child locked %d, "
		       "%s after %.0f ms%s%s%s\n", i + 1, a.parent_threads, a.child_threads, a.parent_relocked,
		       a.child_locked, a.deadlocked ? "child BLOCKED" : "child exited", a.ms,
		       a.deadlocked ? " (state " : "", a.deadlocked ? a.state : "", a.deadlocked ? ")" : "");
		if (i == 0)
			first = a; /* evidence comes from the first attempt, or the first deadlock */
		if (a.deadlocked) {
			if (!detected++) {
				first = a;
				first_ms = a.ms;
			}
			if (!all)
				break;
		} else if (a.child_locked && WIFEXITED(a.exit_status) && WEXITSTATUS(a.exit_status) == 0) {
			clean++;
		}
	}
	json_str(wchan, sizeof wchan, first.wchan);
	printf("REPROLAB-RESULT {\"outcome\": \"%s\", \"attempts\": %d, \"evidence\": {"
	       "\"mode\": \"%s\", \"deadlocked\": %d, \"clean_exits\": %d, \"wait_bound_ms\": %d, "
	       "\"parent_threads_at_fork\": %d, \"child_threads\": %d, \"parent_relocked_after_release\": %s, "
	       "\"child_state\": \"%s\", \"child_wchan\": \"%s\", \"child_syscall_nr\": \"%s\", "
	       "\"time_to_detect_ms\": %.0f}, \"versions\": {\"glibc\": \"%s\", \"kernel\": \"%s\"}}\n",
	       detected ? "reproduced" : (clean == done ? "not-reproduced" : "error"), done, mode, detected, clean,
	       timeout_ms, first.parent_threads, first.child_threads, first.parent_relocked ? "true" : "false",
	       first.state, wchan, first.syscall, first_ms, gnu_get_libc_version(), kernel);
	return 0;
}
