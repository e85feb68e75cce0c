/*
** sync/server/rest.h: the REST API's request parsing (internal).
**
** sync/server/rest.c serves the /api/crm routes (docs/rest-api.md); the functions here
*turn
** the untrusted text of a request (query parameters, the Authorization
** header) into checked values, with no I/O, so that unit tests can cover
** every rule (tests/unit/test_rest_params.c).  Each parser is strict: it
** accepts one spelling of each value and answers CF_INVALID for anything
** else, and the caller answers 400 naming the parameter.
**
** CURSOR FORMAT.  A list's `cursor` is the base64url text (RFC 4648 section
** 5, no padding) of these 27 bytes, so always 36 characters:
**
**   offset  size  field
**   ------  ----  --------------------------------------------------------
**        0     1  format version: 1
**        1     1  list: 1 organizations, 2 contacts, 3 deals, 4 appointments
**        2     1  reserved: 0
**        3     8  sort key of the last row returned: microseconds since
**                 1970-01-01T00:00:00Z, signed, big-endian (created_at, or
**                 starts_at for appointments)
**       11    16  id of the last row returned (UUID bytes)
**
** Postgres writes it (sql/server/rest.sql builds nextCursor inside the JSON
** it returns); cf__rest_cursor_decode reads it back.  A cursor names a
** position, not a snapshot: rows inserted behind it are not seen, rows
** deleted before it are skipped, and no row is returned twice.
*/
#ifndef CF_SYNC_REST_H
#define CF_SYNC_REST_H

#include <stddef.h>
#include <stdint.h>

#include "clientflow.h"
#include "core/uuid.h"

/* The paginated lists, as the cursor's byte 1 names them. */
typedef enum cf__rest_list {
  CF_REST_LIST_ORGANIZATIONS = 1,
  CF_REST_LIST_CONTACTS = 2,
  CF_REST_LIST_DEALS = 3,
  CF_REST_LIST_APPOINTMENTS = 4
} cf__rest_list;

#define CF_REST_CURSOR_BYTES 27 /* decoded size */
#define CF_REST_CURSOR_TEXT 36  /* base64url characters */
#define CF_REST_LIMIT_DEFAULT 50
#define CF_REST_LIMIT_MAX 500
#define CF_REST_DAYS_DEFAULT 30
#define CF_REST_DAYS_MAX 365
/* Longest from/to text accepted ("2026-11-28T16:00:00.123456+05:30"). */
#define CF_REST_TIME_MAX 32

/* A decoded cursor. */
typedef struct cf__rest_cursor {
  int64_t key_us;            /* the sort key, microseconds since the epoch */
  char id[CF_UUID_TEXT_LEN]; /* the row id, canonical text */
} cf__rest_cursor;

/*
** Decodes text as a cursor of list.  CF_OK, or CF_INVALID when it is not
** exactly the format above (wrong length or alphabet, non-canonical
** base64url, another version or list, reserved byte set, a sort key
** outside years 1..9999).  OUT: *out (unchanged on failure).
*/
int cf__rest_cursor_decode(const char *text, cf__rest_list list, cf__rest_cursor *out);

/* Encodes a cursor into out[CF_REST_CURSOR_TEXT + 1] (for tests; the server
** lets Postgres write cursors).  CF_INVALID for a malformed id. */
int cf__rest_cursor_encode(cf__rest_list list, int64_t key_us, const char *id,
                           char out[CF_REST_CURSOR_TEXT + 1]);

/*
** Parses `limit`: NULL gives CF_REST_LIMIT_DEFAULT; otherwise decimal digits
** without sign or leading zero, 1..CF_REST_LIMIT_MAX.  CF_OK or CF_INVALID.
*/
int cf__rest_parse_limit(const char *text, int *out);

/* Parses `days` the same way: NULL gives 30; 1..365.  CF_OK or CF_INVALID. */
int cf__rest_parse_days(const char *text, int *out);

/*
** Parses a UUID (8-4-4-4-12 hex digits, either case) into its canonical
** lowercase text out[CF_UUID_TEXT_LEN].  CF_OK or CF_INVALID (also NULL).
*/
int cf__rest_parse_uuid(const char *text, char out[CF_UUID_TEXT_LEN]);

/* 1 if text is a deal stage (lead, qualified, proposal, won, lost), else 0. */
int cf__rest_is_stage(const char *text);

/*
** Checks an ISO 8601 instant for `from`/`to` and copies its normalised form
** to out[CF_REST_TIME_MAX + 1]:
**
**   YYYY-MM-DD                                  midnight UTC of that day
**   YYYY-MM-DDTHH:MM[:SS[.f{1,6}]](Z|+HH:MM|-HH:MM)
**
** Year 0001..9999, a real calendar day, hours 00..23, minutes and seconds
** 00..59, offsets up to 15:59.  A space where the offset's '+' belongs is
** taken as '+' (an unencoded '+' in a query string arrives as a space).
** CF_OK or CF_INVALID.
*/
int cf__rest_parse_time(const char *text, char out[CF_REST_TIME_MAX + 1]);

/*
** Finds the token in an Authorization header value: "Bearer" (any case),
** one or more spaces, then a token without spaces (trailing blanks
** ignored).  OUT: *token points into header, *len its length.  CF_OK, or
** CF_INVALID (another scheme, no token, NULL header).
*/
int cf__rest_bearer(const char *header, const char **token, size_t *len);

#endif /* CF_SYNC_REST_H */
