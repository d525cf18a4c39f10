/* The lab's speed calibration: how fast this engine forks and execs, and how fast it computes.
 *
 * Run as the only process of a small container on each engine of a run (reprolab.engines.speed).
 * For about SECONDS each (default 1): fork + execve of this same static binary, which exits at once
 * ("child" mode), then a CPU loop in fixed chunks. Prints one JSON line with the counts it made and
 * the time they took, measured with CLOCK_MONOTONIC; the lab divides. Static: no dynamic loader, so
 * an exec costs what the kernel and the machine make it cost. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 200000 /* iterations of the CPU loop between clock reads */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "child"))
		return 0;
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	if (seconds <= 0 || seconds > 30) {
		printf("{\"error\": \"seconds must lie in (0, 30]\"}\n");
		return 2;
	}
	char *child[] = {argv[0], "child", NULL};
	long spawned = 0, failed = 0;
	double t0 = now(), t;
	do {
		pid_t pid = fork();
		if (pid < 0) {
			failed++;
			break;
		}
		if (pid == 0) {
			execv("/proc/self/exe", child);
			_exit(127);
		}
		int status;
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
			spawned++;
		else
			failed++;
		t = now();
	} while (t - t0 < seconds);
	double fork_seconds = now() - t0;

	volatile uint64_t x = 88172645463325252ULL; /* xorshift: no memory traffic, no syscalls */
	long chunks = 0;
	t0 = now();
	do {
		uint64_t v = x;
		for (int i = 0; i < CHUNK; i++) {
			v ^= v << 13;
			v ^= v >> 7;
			v ^= v << 17;
		}
		x = v;
		chunks++;
		t = now();
	} while (t - t0 < seconds);
	double cpu_seconds = t - t0;
	printf("{\"fork_exec\": %ld, \"fork_exec_failed\": %ld, \"fork_exec_seconds\": %.6f, "
	       "\"cpu_chunks\": %ld, \"cpu_chunk_iterations\": %d, \"cpu_seconds\": %.6f}\n",
	       spawned, failed, fork_seconds, chunks, CHUNK, cpu_seconds);
	return failed ? 1 : 0;
}
