/*
 * utils/guc.h: configuration parameters, and custom ones defined by modules (DefineCustom*Variable).
 *
 * The host stores each value in the variable whose address you pass, on definition and after every reload.
 * Names should be qualified ("module.name"); a value given in bgworker.conf or with -c before the module was
 * loaded applies when it is defined. Contexts: PGC_POSTMASTER (and PGC_INTERNAL) values change only at restart;
 * every other context is reloadable (bgw has no per-session SET of a module's parameter). Units (GUC_UNIT_KB,
 * _BYTE, _MS, _S, _MIN) are accepted in values as PostgreSQL accepts them; GUC_SUPERUSER_ONLY hides the value
 * from non-superusers; other flags are accepted and ignored. Check and assign hooks are implemented by
 * modules/params.rs where noted in README.md; a bad value while the host starts stops start-up, later it is a
 * WARNING and the previous value stays.
 */
#ifndef BGW_UTILS_GUC_H
#define BGW_UTILS_GUC_H

#include "postgres.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum
{
	PGC_INTERNAL,
	PGC_POSTMASTER, /* restart-only */
	PGC_SIGHUP,     /* reloadable */
	PGC_SU_BACKEND,
	PGC_BACKEND,
	PGC_SUSET,
	PGC_USERSET,
} GucContext;

typedef enum
{
	PGC_S_DEFAULT,
	PGC_S_DYNAMIC_DEFAULT,
	PGC_S_ENV_VAR,
	PGC_S_FILE,
	PGC_S_ARGV,
	PGC_S_GLOBAL,
	PGC_S_DATABASE,
	PGC_S_USER,
	PGC_S_DATABASE_USER,
	PGC_S_CLIENT,
	PGC_S_OVERRIDE,
	PGC_S_INTERACTIVE,
	PGC_S_TEST,
	PGC_S_SESSION,
} GucSource;

#define GUC_QUALIFIER_SEPARATOR '.'

#define GUC_LIST_INPUT 0x0001
#define GUC_LIST_QUOTE 0x0002
#define GUC_NO_SHOW_ALL 0x0004
#define GUC_NO_RESET_ALL 0x0008
#define GUC_REPORT 0x0010
#define GUC_NOT_IN_SAMPLE 0x0020
#define GUC_DISALLOW_IN_FILE 0x0040
#define GUC_CUSTOM_PLACEHOLDER 0x0080
/* the value may be examined (current_setting, SHOW) only by superusers; others get 42501 */
#define GUC_SUPERUSER_ONLY 0x0100
#define GUC_IS_NAME 0x0200
#define GUC_NOT_WHILE_SEC_REST 0x0400
#define GUC_DISALLOW_IN_AUTO_FILE 0x0800
#define GUC_UNIT_KB 0x1000
#define GUC_UNIT_BLOCKS 0x2000
#define GUC_UNIT_XBLOCKS 0x3000
#define GUC_UNIT_MB 0x4000
#define GUC_UNIT_BYTE 0x8000
#define GUC_UNIT_MEMORY 0xF000
#define GUC_UNIT_MS 0x10000
#define GUC_UNIT_S 0x20000
#define GUC_UNIT_MIN 0x30000
#define GUC_UNIT_TIME 0xF0000
#define GUC_EXPLAIN 0x100000
#define GUC_RUNTIME_COMPUTED 0x200000
#define GUC_UNIT (GUC_UNIT_MEMORY | GUC_UNIT_TIME)

struct config_enum_entry
{
	const char *name;
	int val;
	bool hidden;
};

typedef bool (*GucBoolCheckHook)(bool *newval, void **extra, GucSource source);
typedef bool (*GucIntCheckHook)(int *newval, void **extra, GucSource source);
typedef bool (*GucRealCheckHook)(double *newval, void **extra, GucSource source);
typedef bool (*GucStringCheckHook)(char **newval, void **extra, GucSource source);
typedef bool (*GucEnumCheckHook)(int *newval, void **extra, GucSource source);
typedef void (*GucBoolAssignHook)(bool newval, void *extra);
typedef void (*GucIntAssignHook)(int newval, void *extra);
typedef void (*GucRealAssignHook)(double newval, void *extra);
typedef void (*GucStringAssignHook)(const char *newval, void *extra);
typedef void (*GucEnumAssignHook)(int newval, void *extra);
typedef const char *(*GucShowHook)(void);

extern void DefineCustomBoolVariable(const char *name, const char *short_desc, const char *long_desc,
									 bool *valueAddr, bool bootValue, GucContext context, int flags,
									 GucBoolCheckHook check_hook, GucBoolAssignHook assign_hook,
									 GucShowHook show_hook);
extern void DefineCustomIntVariable(const char *name, const char *short_desc, const char *long_desc,
									int *valueAddr, int bootValue, int minValue, int maxValue, GucContext context,
									int flags, GucIntCheckHook check_hook, GucIntAssignHook assign_hook,
									GucShowHook show_hook);
extern void DefineCustomRealVariable(const char *name, const char *short_desc, const char *long_desc,
									 double *valueAddr, double bootValue, double minValue, double maxValue,
									 GucContext context, int flags, GucRealCheckHook check_hook,
									 GucRealAssignHook assign_hook, GucShowHook show_hook);
extern void DefineCustomStringVariable(const char *name, const char *short_desc, const char *long_desc,
									   char **valueAddr, const char *bootValue, GucContext context, int flags,
									   GucStringCheckHook check_hook, GucStringAssignHook assign_hook,
									   GucShowHook show_hook);
extern void DefineCustomEnumVariable(const char *name, const char *short_desc, const char *long_desc,
									 int *valueAddr, int bootValue, const struct config_enum_entry *options,
									 GucContext context, int flags, GucEnumCheckHook check_hook,
									 GucEnumAssignHook assign_hook, GucShowHook show_hook);
/* Settings under "className." that the module did not define are reported (WARNING) and removed. */
extern void MarkGUCPrefixReserved(const char *className);
#define EmitWarningsOnPlaceholders(className) MarkGUCPrefixReserved(className)

/* The value of a parameter (the host's or a module's) as text: on/off, an integer in its base unit (no unit
 * name), a real as %g, a string, an enum's name. NULL if there is none and missing_ok, else an ERROR 42704
 * (unrecognized configuration parameter); with restrict_privileged, a GUC_SUPERUSER_ONLY parameter is an ERROR
 * 42501 for a role that is not superuser. The string stays valid for the process's life. */
extern const char *GetConfigOption(const char *name, bool missing_ok, bool restrict_privileged);
/* The value as SHOW displays it (with its unit, or the module's show hook's text), palloc'd; *varname (if not
 * NULL) is set to the parameter's name. Errors as GetConfigOption's, privileges always checked. */
extern char *GetConfigOptionByName(const char *name, const char **varname, bool missing_ok);
/* The value after a reset: bgw gives the configured value (file, -c or default), as GetConfigOption. */
extern const char *GetConfigOptionResetString(const char *name);

/* Sets a parameter (the host's or a module's) in this process, with PostgreSQL's context rules (context is the
 * caller's: a parameter of a stricter context is an ERROR 55P02, a superuser one set from PGC_USERSET or
 * PGC_BACKEND 42501; a module's reloadable parameter may be set from any context, bgw not keeping its
 * PostgreSQL context); a bad value is an ERROR 22023; value NULL sets the default. The value holds across reloads
 * (source is accepted and ignored); a module's variable is written through its check and assign hooks. An
 * unknown name is an ERROR 42704 (PostgreSQL makes a placeholder for an unknown dotted name). */
extern void SetConfigOption(const char *name, const char *value, GucContext context, GucSource source);

/* Re-reads the configuration file (context is PGC_SIGHUP in workers: only reloadable parameters change). */
extern void ProcessConfigFile(GucContext context);

#ifdef __cplusplus
}
#endif

#endif /* BGW_UTILS_GUC_H */
