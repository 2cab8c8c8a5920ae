/*
 * fork_floor: the physical floor for launching a process on this machine, measured beside the benchmarks.
 *
 * One sample is a bare round trip: fork -> the child runs (and exits at once) -> the parent reaps it with waitpid.
 * A supervisor cannot report a started worker faster than the fork half of this, nor a full launch-and-exit cycle
 * faster than all of it. Prints the samples in nanoseconds, separated by spaces.
 *
 * Usage: fork_floor N
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	int i;

	for (i = 0; i < n; i++)
	{
		long long t0 = now_ns();
		pid_t pid = fork();
		int status;

		if (pid < 0)
		{
			perror("fork");
			return 1;
		}
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, &status, 0) != pid)
		{
			perror("waitpid");
			return 1;
		}
		printf(i ? " %lld" : "%lld", now_ns() - t0);
	}
	printf("\n");
	return 0;
}
