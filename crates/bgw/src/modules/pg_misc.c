/*
 * Process globals, timestamps and shared-memory size arithmetic for modules (miscadmin.h, utils/timestamp.h,
 * storage/shmem.h, storage/proc.h).
 *
 * Compiled into the host by build.rs. The host sets the paths (the data directory, the executable's) once in the
 * postmaster through bgw_init_c_paths, and the per-process globals (start time, pid, whether it runs under the
 * postmaster) through bgw_init_c_process when a process starts (the postmaster before preloading, every child
 * after fork).
 *
 * Runs in: any process that calls into a module.
 */
#include "postgres.h"

#include <time.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

pg_time_t MyStartTime = 0;
TimestampTz MyStartTimestamp = 0;
TimestampTz PgStartTime = 0;
bool IsUnderPostmaster = false;
bool IsPostmasterEnvironment = true;
char *DataDir = NULL;
char my_exec_path[MAXPGPATH] = "";
char pkglib_path[MAXPGPATH] = "";
bool process_shared_preload_libraries_done = false;

/* This process's PGPROC (bgw's own, storage/proc.h): its procLatch is MyLatch in every process; MyProc points at it
 * in processes attached to shared memory when they start (every child; not the postmaster before it creates it). */
static PGPROC my_proc;
PGPROC *MyProc = NULL;

/*
 * What every new child runs before its body: placed with the host's worker start-up code (the `.text.hot` output
 * section, see crates/bgw/build.rs), so that a starting worker maps no separate block of code for it.
 */
#define BGW_START_UP_CODE __attribute__((section(".text.hot.bgw_c")))

#define SECS_BETWEEN_EPOCHS ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)

BGW_START_UP_CODE TimestampTz
GetCurrentTimestamp(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64) ts.tv_sec - SECS_BETWEEN_EPOCHS) * USECS_PER_SEC + ts.tv_nsec / 1000;
}

TimestampTz
time_t_to_timestamptz(pg_time_t tm)
{
	return ((int64) tm - SECS_BETWEEN_EPOCHS) * USECS_PER_SEC;
}

BGW_START_UP_CODE pg_time_t
timestamptz_to_time_t(TimestampTz t)
{
	return (pg_time_t) (t / USECS_PER_SEC + SECS_BETWEEN_EPOCHS);
}

void
TimestampDifference(TimestampTz start_time, TimestampTz stop_time, long *secs, int *microsecs)
{
	TimestampTz diff = stop_time - start_time;

	if (diff <= 0)
	{
		*secs = 0;
		*microsecs = 0;
	}
	else
	{
		*secs = (long) (diff / USECS_PER_SEC);
		*microsecs = (int) (diff % USECS_PER_SEC);
	}
}

long
TimestampDifferenceMilliseconds(TimestampTz start_time, TimestampTz stop_time)
{
	TimestampTz diff = stop_time - start_time;

	if (diff <= 0)
		return 0;
	if (diff >= (INT_MAX * INT64CONST(1000) - 999))
		return (long) INT_MAX;
	return (long) ((diff + 999) / 1000);
}

bool
TimestampDifferenceExceeds(TimestampTz start_time, TimestampTz stop_time, int msec)
{
	return stop_time - start_time >= msec * INT64CONST(1000);
}

/* "2026-12-07 17:31:17.123456+00" (UTC), in a static buffer. */
const char *
timestamptz_to_str(TimestampTz t)
{
	static char buf[64];
	time_t secs = (time_t) (t / USECS_PER_SEC + SECS_BETWEEN_EPOCHS);
	int usecs = (int) (t % USECS_PER_SEC);
	struct tm tm;
	size_t n;

	if (usecs < 0)
	{
		secs -= 1;
		usecs += USECS_PER_SEC;
	}
	gmtime_r(&secs, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%06d+00", usecs);
	return buf;
}

Size
add_size(Size s1, Size s2)
{
	Size result = s1 + s2;

	if (result < s1 || result < s2)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("requested shared memory size overflows size_t")));
	return result;
}

Size
mul_size(Size s1, Size s2)
{
	Size result;

	if (s1 == 0 || s2 == 0)
		return 0;
	result = s1 * s2;
	if (result / s2 != s1)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						errmsg("requested shared memory size overflows size_t")));
	return result;
}

/* Called by the host once, in the postmaster before preloading (children inherit what it sets). */
void
bgw_init_c_paths(const char *data_dir, const char *exec_path, const char *pkglib)
{
	free(DataDir);
	DataDir = strdup(data_dir);
	snprintf(my_exec_path, sizeof(my_exec_path), "%s", exec_path);
	snprintf(pkglib_path, sizeof(pkglib_path), "%s", pkglib);
}

/* Called by the host when a process starts (the postmaster before preloading, every child after fork). */
BGW_START_UP_CODE void
bgw_init_c_process(bool under_postmaster, bool attached, int pid, int64 postmaster_start_us)
{
	MyStartTimestamp = GetCurrentTimestamp();
	MyStartTime = timestamptz_to_time_t(MyStartTimestamp);
	IsUnderPostmaster = under_postmaster;
	my_proc.pid = pid;
	my_proc.databaseId = InvalidOid;
	my_proc.roleId = InvalidOid;
	MyProc = attached ? &my_proc : NULL;
	if (postmaster_start_us != 0)
		PgStartTime = postmaster_start_us - SECS_BETWEEN_EPOCHS * USECS_PER_SEC;
	else if (!under_postmaster)
		PgStartTime = MyStartTimestamp;
}

/* After preloading: every library's _PG_init has run. */
void
bgw_set_preload_done(void)
{
	process_shared_preload_libraries_done = true;
}

/* The process's latch: the host publishes it as MyLatch. */
BGW_START_UP_CODE Latch *
bgw_proc_latch(void)
{
	return &my_proc.procLatch;
}

/* The host announces the connected database and role (a worker's connection, a backend's session). */
void
bgw_proc_set_identity(Oid database, Oid role)
{
	my_proc.databaseId = database;
	my_proc.roleId = role;
}
