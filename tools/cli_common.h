/* cli_common.h - what the viewer commands (plan, ls, events, playlist,
 * export) share: the configuration and S3 client, the device's layout,
 * option values, and error messages a person can act on. */
#ifndef IVCS_TOOLS_CLI_COMMON_H
#define IVCS_TOOLS_CLI_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include "engine/layout/layout.h"
#include "engine/net/s3.h"
#include "ivcs.h"
#include "ivcs_viewer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Exit statuses of every command. */
#define IVCS_EXIT_OK 0
#define IVCS_EXIT_FAIL 1 /* not found, empty, S3 or transport failure */
#define IVCS_EXIT_USAGE 2
#define IVCS_EXIT_PARTIAL 3 /* plan set: plan.json written, the server has no bucket
                               lifecycle, so no retention was set */

typedef struct ivcs_cli_s {
    const char *cmd;         /* "ls", for messages: "ivcs ls: ..." */
    const char *config_path; /* as given */
    ivcs_config_s cfg;       /* holds the secret key: ivcs_cli_close wipes it */
    ivcs_s3 *s3;
    ivcs_layout_s layout;
    ivcs_viewer_s *viewer; /* public viewer API (ivcs_cli_viewer), or NULL */
} ivcs_cli_s;

/* Loads the configuration (path, or $IVCS_CONFIG when NULL), creates the S3
 * client and the device's layout. Returns an exit status: 0, 1 (config
 * unreadable/invalid, client set-up failed) or 2 (no config given); the
 * reason is printed. On 0 call ivcs_cli_close. */
int ivcs_cli_open(ivcs_cli_s *c, const char *cmd, const char *config_path);

void ivcs_cli_close(ivcs_cli_s *c);

/* Opens c->viewer (ivcs_viewer.h) on c's configuration if not yet open.
 * IVCS_EXIT_OK, or IVCS_EXIT_FAIL after saying why. */
int ivcs_cli_viewer(ivcs_cli_s *c);

/* ivcs_cli_fail with the viewer's last failed request. */
int ivcs_cli_fail_viewer(const ivcs_cli_s *c, const char *what, int rc);

/* Set by `ivcs -v CMD` / `ivcs CMD -v` (main.c). */
extern int ivcs_cli_verbose;

/* With -v, prints once per process which I/O backend the event loop runs
 * and why ("ivcs CMD: I/O backend epoll: io_uring_setup refused ..."). */
void ivcs_cli_io_backend(const char *cmd, int backend, const char *note);

/* "ivcs CMD: WHAT: <code's message>" plus, when the event loop is what
 * failed (a forced io_uring refused, a bad IVCS_IO_BACKEND), the cause
 * from ivcs_io_backend_note(). */
void ivcs_cli_init_fail(const char *cmd, const char *what, int rc);

/* Prints why an operation failed ("ivcs CMD: WHAT: reason"), naming the
 * likely fix for a missing bucket, rejected or expired credentials, an
 * unreachable or untrusted endpoint. r is the failed request's result (may
 * be NULL). Returns IVCS_EXIT_FAIL. */
int ivcs_cli_fail(const ivcs_cli_s *c, const char *what, int rc, const ivcs_s3_result *r);

/* "ivcs CMD: unknown device ..." / "... has no recordings ..." once a listing
 * came back empty: checks whether the device has any object. Returns
 * IVCS_EXIT_FAIL. */
int ivcs_cli_nothing(const ivcs_cli_s *c, const char *what);

/* The one way every command reports a usage error: "ivcs CMD: MESSAGE"
 * (which names the bad or missing option) and "ivcs CMD: see 'ivcs CMD
 * --help'" on stderr. Returns IVCS_EXIT_USAGE. */
int ivcs_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* 1 if a is --help or -h. */
int ivcs_cli_is_help(const char *a);

/* A usage error for argument a: "OPT needs a value" when a is one of the
 * words of valued (space-separated, e.g. "--config --channel") and had no
 * value, else "unknown option"/"unexpected argument". Returns
 * IVCS_EXIT_USAGE. */
int ivcs_cli_bad_option(const char *cmd, const char *a, const char *valued);

/* Option values. Each reports "bad OPT 'V': expected ..." as a usage error
 * (ivcs_cli_usage_error) and returns -1 on error; v NULL is "OPT needs a
 * value". */
int ivcs_cli_time(const char *cmd, const char *opt, const char *v, int64_t *ms);
int ivcs_cli_day(const char *cmd, const char *opt, const char *v, int64_t *ms);
int ivcs_cli_u32(const char *cmd, const char *opt, const char *v, uint32_t min, uint32_t max,
                 uint32_t *out);
/* A decimal number (no inf/nan/hex) in min..max. */
int ivcs_cli_number(const char *cmd, const char *opt, const char *v, double min, double max,
                    double *out);

/* The one range rule of every viewer command (ls, events, playlist,
 * export): --day D, or --from T and/or --to T; a bound left out is open
 * (from the first / to the last recording), no range option at all means
 * everything; --day excludes --from/--to; --to must be after --from. */
typedef struct ivcs_cli_range_s {
    int64_t from, to; /* [from, to) UTC ms */
    int has_from, has_to, has_day;
} ivcs_cli_range_s;

/* Takes option a with value v if it is --day, --from or --to: 1 (consumed
 * the value), 0 (not a range option), -1 (bad value, printed). */
int ivcs_cli_range_opt(const char *cmd, const char *a, const char *v, ivcs_cli_range_s *r);

/* Checks the combination (the rule above) and fills the defaults (from 0,
 * to the end of time). 0 or -1 (usage error printed). */
int ivcs_cli_range_finish(const char *cmd, ivcs_cli_range_s *r);

/* The time forms T of timearg.h, as help text wrapped at 80 columns
 * ("T: ...", '\n' after each line). */
const char *ivcs_cli_time_help(void);

/* The rule above in two lines of help text (each < 80 columns, '\n' after
 * each). */
const char *ivcs_cli_range_help(void);

/* What every viewer command (ls, events, playlist, export) selects: the
 * config file, the channel and the time range. */
typedef struct ivcs_cli_scope_s {
    ivcs_cli_range_s range;
    const char *config; /* NULL: $IVCS_CONFIG */
    uint32_t ch;
    int has_ch;
} ivcs_cli_scope_s;

/* Takes option a with value v if it is --config, --channel or a range
 * option: 1 (consumed the value), 0 (not one of them), -1 (bad value,
 * printed). */
int ivcs_cli_scope_opt(const char *cmd, const char *a, const char *v, ivcs_cli_scope_s *sc);

/* "2026-11-25T10:00:00.000Z" for ms in 0..IVCS_LAYOUT_MS_MAX (else the
 * number). buf: >= 32 bytes. */
const char *ivcs_cli_iso(int64_t ms, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
