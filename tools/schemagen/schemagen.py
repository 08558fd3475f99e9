#!/usr/bin/python3
"""schemagen - generates gau_schema.{c,h} and messages.md from schemas/*.json.

Usage: schemagen.py --out-c X.c --out-h X.h --out-md X.md schemas/a.json ...

Each schema file describes one service:

  {
    "service": "account",
    "description": "...",
    "messages": [
      {
        "name": "account.register",       <service>.<verb or noun>[.reply]
        "kind": "command",                command | event | reply
        "version": 1,
        "reply": "account.register.reply", commands only: the reply type
        "principal_required": false,      commands only, default false
        "trusted_only": false,            commands only, default false
        "require_any": ["username", "email"],  optional fields, one needed
        "description": "...",
        "fields": [ FIELD, ... ]          or "fields_from": "<message>"
      }
    ]
  }

  FIELD = {"name": "password", "type": "string", "optional": false,
           "min": 8, "max": 128, "secret": true, "description": "..."}

A string refuses control characters (C0, DEL, C1) and the bidirectional
embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069) unless
it says "controls": true. A date with "past": true refuses a day after
today (UTC).

Types: string (min/max in characters; max required), int (min/max values),
bool, uuid, email, username, date, enum ("values": [...]), timestamp (ms
since the epoch; RFC 3339 in JSON). Any mistake in a schema file stops the
build with a message naming the file, message and field.
"""

import argparse
import json
import os
import re
import sys

TYPES = {
    # type: (C kind, fixed size in bytes or None, ASCII only)
    "string": ("text", None),
    "int": ("int", None),
    "bool": ("bool", None),
    "uuid": ("text", 37),
    "email": ("text", 255),
    "username": ("text", 33),
    "date": ("text", 11),
    "enum": ("text", None),
    "timestamp": ("int", None),
}

FORMATS = {
    "string": "UTF-8 text",
    "int": "integer",
    "bool": "boolean",
    "uuid": "UUID, 36 characters (stored lower-case)",
    "email": "email address: at most 254 printable ASCII characters, one "
             "`@`, a dot in the domain, no spaces",
    "username": "3 to 32 of `a-z 0-9 _ . -`, starting with a letter or digit",
    "date": "`YYYY-MM-DD`, a real date",
    "enum": "one of the listed values",
    "timestamp": "msgpack: integer ms since the epoch; JSON: RFC 3339 UTC "
                 "string `2026-12-03T08:53:42.123Z` (an integer of ms is "
                 "accepted too)",
}

KINDS = {"command": "GAU_MSG_COMMAND", "event": "GAU_MSG_EVENT",
         "reply": "GAU_MSG_REPLY"}

C_KEYWORDS = set("""auto break case char const continue default do double
else enum extern float for goto if inline int long register restrict return
short signed sizeof static struct switch typedef union unsigned void
volatile while bool true false""".split())

SERVICE_KEYS = {"service", "description", "messages"}
MESSAGE_KEYS = {"name", "kind", "version", "reply", "principal_required",
                "trusted_only", "require_any", "description", "fields",
                "fields_from"}
FIELD_KEYS = {"name", "type", "optional", "min", "max", "values", "secret",
              "controls", "past", "description"}

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
FIELD_RE = re.compile(r"^[a-z][a-z0-9_]*$")
VALUE_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


class SchemaError(Exception):
    pass


def fail(where, msg):
    raise SchemaError("%s: %s" % (where, msg))


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_keys(where, obj, allowed):
    if not isinstance(obj, dict):
        fail(where, "must be a JSON object")
    for k in obj:
        if k not in allowed:
            fail(where, "unknown key '%s' (allowed: %s)"
                 % (k, ", ".join(sorted(allowed))))


def check_bool(where, obj, key):
    v = obj.get(key, False)
    if not isinstance(v, bool):
        fail(where, "'%s' must be true or false" % key)
    return v


def check_text(where, obj, key, required=False):
    if key not in obj:
        if required:
            fail(where, "'%s' is required" % key)
        return ""
    v = obj[key]
    if not isinstance(v, str):
        fail(where, "'%s' must be a string" % key)
    return v


def load_field(where, raw):
    check_keys(where, raw, FIELD_KEYS)
    name = check_text(where, raw, "name", True)
    if not FIELD_RE.match(name) or len(name) > 47:
        fail(where, "field name '%s' must be [a-z][a-z0-9_]*, at most 47 "
             "characters" % name)
    if name in C_KEYWORDS or name.startswith("has_"):
        fail(where, "field name '%s' is reserved" % name)
    where = "%s: field '%s'" % (where, name)
    ftype = check_text(where, raw, "type", True)
    if ftype not in TYPES:
        fail(where, "unknown type '%s' (known: %s)"
             % (ftype, ", ".join(TYPES)))
    f = {
        "name": name,
        "type": ftype,
        "optional": check_bool(where, raw, "optional"),
        "secret": check_bool(where, raw, "secret"),
        "controls": check_bool(where, raw, "controls"),
        "past": check_bool(where, raw, "past"),
        "description": check_text(where, raw, "description"),
        "min": None,
        "max": None,
        "values": None,
    }
    for key in ("min", "max"):
        if key in raw:
            if ftype not in ("string", "int"):
                fail(where, "'%s' applies only to string and int" % key)
            if not is_int(raw[key]):
                fail(where, "'%s' must be an integer" % key)
            if ftype == "string" and not 0 <= raw[key] <= 65535:
                fail(where, "'%s' must be 0..65535 characters" % key)
            f[key] = raw[key]
    if ftype == "string" and f["max"] is None:
        fail(where, "a string needs 'max'")
    if f["controls"] and ftype != "string":
        fail(where, "'controls' applies only to string")
    if f["past"] and ftype != "date":
        fail(where, "'past' applies only to date")
    if f["min"] is not None and f["max"] is not None and f["min"] > f["max"]:
        fail(where, "'min' is greater than 'max'")
    if ftype == "enum":
        vals = raw.get("values")
        if (not isinstance(vals, list) or not vals or
                not all(isinstance(v, str) and VALUE_RE.match(v)
                        for v in vals)):
            fail(where, "an enum needs 'values': a non-empty list of "
                 "strings of [A-Za-z0-9_.-]")
        if len(set(vals)) != len(vals):
            fail(where, "duplicate enum value")
        f["values"] = vals
    elif "values" in raw:
        fail(where, "'values' applies only to enum")
    return f


def load_message(where, raw, service):
    if isinstance(raw, dict) and isinstance(raw.get("name"), str):
        where = "%s: message '%s'" % (where, raw["name"])
    check_keys(where, raw, MESSAGE_KEYS)
    name = check_text(where, raw, "name", True)
    if not NAME_RE.match(name) or len(name) > 63:
        fail(where, "message name '%s' must be dotted lower-case words, at "
             "most 63 characters" % name)
    if name.split(".")[0] != service:
        fail(where, "the name must start with '%s.'" % service)
    kind = check_text(where, raw, "kind", True)
    if kind not in KINDS:
        fail(where, "kind must be command, event or reply")
    version = raw.get("version")
    if not is_int(version) or version < 1:
        fail(where, "'version' must be a positive integer")
    m = {
        "name": name,
        "cname": "gau_" + name.replace(".", "_"),
        "kind": kind,
        "version": version,
        "reply": raw.get("reply"),
        "principal_required": check_bool(where, raw, "principal_required"),
        "trusted_only": check_bool(where, raw, "trusted_only"),
        "description": check_text(where, raw, "description"),
        "require_any": raw.get("require_any", []),
        "where": where,
        "fields_from": raw.get("fields_from"),
    }
    if kind == "command":
        if not isinstance(m["reply"], str):
            fail(where, "a command needs 'reply'")
    else:
        for key in ("reply", "principal_required", "trusted_only"):
            if key in raw:
                fail(where, "'%s' applies only to commands" % key)
    if "fields" in raw and "fields_from" in raw:
        fail(where, "give 'fields' or 'fields_from', not both")
    if "fields_from" in raw:
        if not isinstance(raw["fields_from"], str):
            fail(where, "'fields_from' must be a message name")
        m["fields"] = None
    else:
        if not isinstance(raw.get("fields"), list):
            fail(where, "'fields' must be a list")
        m["fields"] = [load_field(where, f) for f in raw["fields"]]
    return m


def check_fields(m):
    where = m["where"]
    names = [f["name"] for f in m["fields"]]
    for n in names:
        if names.count(n) > 1:
            fail(where, "duplicate field '%s'" % n)
    if len(names) > 64:
        fail(where, "more than 64 fields")
    ra = m["require_any"]
    if not isinstance(ra, list) or not all(isinstance(x, str) for x in ra):
        fail(where, "'require_any' must be a list of field names")
    if len(ra) == 1:
        fail(where, "'require_any' needs at least two fields")
    for n in ra:
        f = next((f for f in m["fields"] if f["name"] == n), None)
        if f is None:
            fail(where, "'require_any' names unknown field '%s'" % n)
        if not f["optional"]:
            fail(where, "'require_any' field '%s' must be optional" % n)


def load(paths):
    msgs = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as fp:
                raw = json.load(fp)
        except (OSError, ValueError) as e:
            raise SchemaError("%s: %s" % (path, e))
        check_keys(path, raw, SERVICE_KEYS)
        service = check_text(path, raw, "service", True)
        if not FIELD_RE.match(service):
            fail(path, "service must be [a-z][a-z0-9_]*")
        if not isinstance(raw.get("messages"), list) or not raw["messages"]:
            fail(path, "'messages' must be a non-empty list")
        for r in raw["messages"]:
            m = load_message(path, r, service)
            m["service"] = service
            msgs.append(m)
    by_name = {}
    by_c = {}
    for m in msgs:
        if m["name"] in by_name:
            fail(m["where"], "defined twice")
        if m["cname"] in by_c:
            fail(m["where"], "C name %s clashes with '%s'"
                 % (m["cname"], by_c[m["cname"]]["name"]))
        by_name[m["name"]] = m
        by_c[m["cname"]] = m
    for m in msgs:
        src = m["fields_from"]
        if src is not None:
            if src not in by_name or by_name[src]["fields"] is None:
                fail(m["where"], "'fields_from' names no message with "
                     "fields: '%s'" % src)
            m["fields"] = [dict(f) for f in by_name[src]["fields"]]
    for m in msgs:
        check_fields(m)
        if m["kind"] == "command":
            r = by_name.get(m["reply"])
            if r is None or r["kind"] != "reply":
                fail(m["where"], "reply '%s' is not a reply message"
                     % m["reply"])
    return msgs, by_name



# The fixed parts of the generated files. They live here, not in files of
# their own, so that the Makefile's dependency on this script covers them.

RUNTIME_H = r'''/* Generated from schemas/ by tools/schemagen/schemagen.py. */
#ifndef GAU_SCHEMA_H
#define GAU_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <msgpack.h>

#include "core/fielderr.h"

enum gau_msg_kind {
    GAU_MSG_COMMAND,
    GAU_MSG_EVENT,
    GAU_MSG_REPLY
};

enum gau_field_type {
    GAU_FIELD_STRING,
    GAU_FIELD_INT,
    GAU_FIELD_BOOL,
    GAU_FIELD_UUID,
    GAU_FIELD_EMAIL,
    GAU_FIELD_USERNAME,
    GAU_FIELD_DATE,
    GAU_FIELD_ENUM,
    GAU_FIELD_TIMESTAMP
};

/*
 * One field of a message. Strings (every type but int, bool and timestamp)
 * are NUL-terminated char arrays of `size` bytes at `offset`; int and
 * timestamp are int64_t, bool is bool. An optional field has a bool at
 * has_offset; for a required one has_offset is (size_t)-1. min and max are
 * characters for strings and values for ints; has_min/has_max say whether
 * they apply. A secret field is never logged. A string refuses control
 * and bidirectional formatting characters unless controls is set; a date
 * with past refuses a day after today (UTC).
 */
struct gau_field_info {
    const char *name;
    enum gau_field_type type;
    bool optional;
    bool secret;
    bool controls, past;
    bool has_min, has_max;
    int64_t min, max;
    const char *const *values; /* enum: NULL-terminated list */
    size_t offset;
    size_t has_offset;
    size_t size;
};

struct gau_msg_info {
    const char *name;
    int version;
    enum gau_msg_kind kind;
    const char *reply; /* reply type name for commands, else NULL */
    bool principal_required, trusted_only;
    size_t size; /* sizeof the struct */
    int (*decode)(const msgpack_object *, void *, struct gau_field_errors *);
    void (*pack)(msgpack_packer *, const void *);
    int (*from_json)(const json_t *, void *, struct gau_field_errors *);
    json_t *(*to_json)(const void *);
    int (*validate)(const void *, struct gau_field_errors *);
    const struct gau_field_info *fields;
    size_t fields_count;
};

/* The message called name ("account.register"), or NULL when unknown. */
const struct gau_msg_info *gau_msg_find(const char *name);

extern const struct gau_msg_info *const gau_msgs[];
extern const size_t gau_msgs_count;

/*
 * Helpers the generated code uses, for anyone who needs the same rules.
 *
 * gau_schema_utf8_chars: the number of characters in the n bytes at s, or
 * -1 when they are not valid UTF-8 (overlong forms, surrogates, code points
 * past U+10FFFF and NUL are all invalid).
 */
long gau_schema_utf8_chars(const char *s, size_t n);
/* 1 when s is a valid value of that format, else 0. */
int gau_schema_email_valid(const char *s);
int gau_schema_username_valid(const char *s);
int gau_schema_date_valid(const char *s);
/*
 * 1 when the n bytes of UTF-8 at s hold no C0 control, DEL, C1 control
 * (U+0080..U+009F) nor bidirectional embedding, override or isolate
 * (U+202A..U+202E, U+2066..U+2069), else 0.
 */
int gau_schema_text_clean(const char *s, size_t n);
/* 1 when date s (valid) is not after the UTC day of now_ms, else 0. */
int gau_schema_date_past(const char *s, int64_t now_ms);

/* The largest timestamp (9999-12-31T23:59:59.999Z) in ms. */
#define GAU_SCHEMA_TS_MAX INT64_C(253402300799999)
/* "2026-12-03T08:53:42.123Z" plus NUL. */
#define GAU_SCHEMA_TS_LEN 24

/*
 * Writes ms (0 .. GAU_SCHEMA_TS_MAX; others are clamped) as an RFC 3339 UTC
 * string with milliseconds.
 */
void gau_schema_ts_format(int64_t ms, char out[GAU_SCHEMA_TS_LEN + 1]);

/*
 * Parses an RFC 3339 date-time ("2026-12-03T08:53:42.123Z", fractions of
 * any length, 'Z' or an offset like "+02:00") into ms since the epoch.
 * Returns 0 or GAU_EINVAL (also for times outside 0 .. GAU_SCHEMA_TS_MAX).
 */
int gau_schema_ts_parse(const char *s, int64_t *ms);

'''

RUNTIME_C = r'''/* Generated from schemas/ by tools/schemagen/schemagen.py. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/fielderr.h"
#include "core/util.h"
#include "gau_schema.h"

#define NO_HAS ((size_t)-1)

/* A message as the generic code below sees it. */
struct msg_desc {
    const struct gau_field_info *f;
    size_t n;
    const char *const *any;  /* require_any names, NULL-terminated, or NULL */
};

/* ---- formats ---------------------------------------------------------- */

long gau_schema_utf8_chars(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    long chars = 0;

    while (i < n) {
        unsigned c = s[i];
        uint32_t cp;
        size_t k, more;

        if (c == 0)
            return -1;
        if (c < 0x80) {
            i++;
            chars++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            cp = c & 0x07;
        } else {
            return -1;
        }
        if (n - i <= more)
            return -1;
        for (k = 1; k <= more; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return -1;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        /* Overlong three- and four-byte forms, surrogates, past U+10FFFF. */
        if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return -1;
        i += more + 1;
        chars++;
    }
    return chars;
}

static int email_char_ok(int c)
{
    return c > 0x20 && c < 0x7f && c != '@' && c != '(' && c != ')' &&
           c != ',' && c != ':' && c != ';' && c != '<' && c != '>' &&
           c != '[' && c != ']' && c != '\\' && c != '"';
}

int gau_schema_email_valid(const char *s)
{
    const char *at = strchr(s, '@');
    const char *p, *dot;
    size_t len = strlen(s);

    if (!at || len > 254 || at == s || at - s > 64 || strchr(at + 1, '@'))
        return 0;
    for (p = s; *p; p++)
        if (p != at && !email_char_ok((unsigned char)*p))
            return 0;
    dot = strrchr(at + 1, '.');
    if (!dot || at[1] == '.' || dot[1] == '\0' || strstr(at, ".."))
        return 0;
    if (s[0] == '.' || at[-1] == '.' || at[1] == '-')
        return 0;
    return 1;
}

int gau_schema_username_valid(const char *s)
{
    size_t i, len = strlen(s);

    if (len < 3 || len > 32 || !(islower((unsigned char)s[0]) ||
                                 isdigit((unsigned char)s[0])))
        return 0;
    for (i = 0; i < len; i++) {
        int c = (unsigned char)s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

static int digits(const char *s, int n, int *out)
{
    int i, v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

/* Parses "YYYY-MM-DD" at s (no terminator needed). */
static int parse_date(const char *s, int *y, int *m, int *d)
{
    if (digits(s, 4, y) || s[4] != '-' || digits(s + 5, 2, m) ||
        s[7] != '-' || digits(s + 8, 2, d))
        return -1;
    if (*y < 1 || *m < 1 || *m > 12 || *d < 1 ||
        *d > days_in_month(*y, *m))
        return -1;
    return 0;
}

int gau_schema_date_valid(const char *s)
{
    int y, m, d;

    return strlen(s) == 10 && parse_date(s, &y, &m, &d) == 0;
}

int gau_schema_text_clean(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i;

    for (i = 0; i < n; i++) {
        if (u[i] < 0x20 || u[i] == 0x7f)
            return 0;
        /* U+0080..U+009F are C2 80..C2 9F in UTF-8. */
        if (u[i] == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
            return 0;
        /* U+202A..U+202E are E2 80 AA..AE; U+2066..U+2069 E2 81 A6..A9. */
        if (u[i] == 0xe2 && i + 2 < n &&
            ((u[i + 1] == 0x80 && u[i + 2] >= 0xaa && u[i + 2] <= 0xae) ||
             (u[i + 1] == 0x81 && u[i + 2] >= 0xa6 && u[i + 2] <= 0xa9)))
            return 0;
    }
    return 1;
}

static int64_t days_from_civil(int64_t y, int m, int d);

int gau_schema_date_past(const char *s, int64_t now_ms)
{
    int y, m, d;

    if (parse_date(s, &y, &m, &d) < 0)
        return 0;
    return days_from_civil(y, m, d) <= now_ms / 86400000;
}

static int64_t now_utc_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

void gau_schema_ts_format(int64_t ms, char out[GAU_SCHEMA_TS_LEN + 1])
{
    int64_t days, rem;
    int y, mo, d;
    char buf[64];

    if (ms < 0)
        ms = 0;
    if (ms > GAU_SCHEMA_TS_MAX)
        ms = GAU_SCHEMA_TS_MAX;
    days = ms / 86400000;
    rem = ms % 86400000;
    civil_from_days(days, &y, &mo, &d);
    /* The clamp above keeps every part in range; buf silences the
     * compiler's worst-case estimate. */
    snprintf(buf, sizeof(buf),
             "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, mo, d,
             (int)(rem / 3600000), (int)(rem / 60000 % 60),
             (int)(rem / 1000 % 60), (int)(rem % 1000));
    memcpy(out, buf, GAU_SCHEMA_TS_LEN);
    out[GAU_SCHEMA_TS_LEN] = '\0';
}

int gau_schema_ts_parse(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, oh, om, frac = 0, scale = 100;
    int64_t t;
    const char *p;

    if (strlen(s) < 20 || parse_date(s, &y, &mo, &d) ||
        (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec) || h > 23 || mi > 59 || sec > 59)
        return GAU_EINVAL;
    p = s + 19;
    if (*p == '.') {
        if (!isdigit((unsigned char)p[1]))
            return GAU_EINVAL;
        for (p++; isdigit((unsigned char)*p); p++) {
            frac += (*p - '0') * scale;
            scale /= 10;
        }
    }
    t = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        /* UTC */
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 &&
               digits(p + 1, 2, &oh) == 0 && p[3] == ':' &&
               digits(p + 4, 2, &om) == 0 && oh <= 23 && om <= 59) {
        t += (*p == '+' ? -1 : 1) * (int64_t)(oh * 60 + om) * 60;
    } else {
        return GAU_EINVAL;
    }
    t = t * 1000 + frac;
    if (t < 0 || t > GAU_SCHEMA_TS_MAX)
        return GAU_EINVAL;
    *ms = t;
    return 0;
}

/* ---- generic field access --------------------------------------------- */

static bool *has_ptr(const struct gau_field_info *f, void *s)
{
    return (bool *)((char *)s + f->has_offset);
}

static bool present(const struct gau_field_info *f, const void *s)
{
    return f->has_offset == NO_HAS ||
           *(const bool *)((const char *)s + f->has_offset);
}

static bool is_text(const struct gau_field_info *f)
{
    return f->type != GAU_FIELD_INT && f->type != GAU_FIELD_BOOL &&
           f->type != GAU_FIELD_TIMESTAMP;
}

static bool has_error(const struct gau_field_errors *errs, const char *name)
{
    int i;

    for (i = 0; i < errs->count; i++)
        if (strcmp(errs->e[i].field, name) == 0)
            return true;
    return false;
}

static void enum_reason(const struct gau_field_info *f, char *buf,
                        size_t len)
{
    const char *const *v;
    size_t used;

    snprintf(buf, len, "must be one of:");
    for (v = f->values; *v; v++) {
        used = strlen(buf);
        snprintf(buf + used, len - used, "%s %s", v == f->values ? "" : ",",
                 *v);
    }
}

/* The reason a string value of f breaks its format, or NULL. */
static const char *format_reason(const struct gau_field_info *f)
{
    switch (f->type) {
    case GAU_FIELD_UUID:
        return "must be a UUID";
    case GAU_FIELD_EMAIL:
        return "must be an email address";
    case GAU_FIELD_USERNAME:
        return "must be 3 to 32 of a-z, 0-9, '_', '.', '-', starting with "
               "a letter or digit";
    case GAU_FIELD_DATE:
        return "must be a date (YYYY-MM-DD)";
    default:
        return NULL;
    }
}

static void check_text(const struct gau_field_info *f, const char *v,
                       struct gau_field_errors *errs)
{
    size_t n = strnlen(v, f->size);
    long chars = n < f->size ? gau_schema_utf8_chars(v, n) : -1;
    const char *const *e;
    char buf[112];

    if (chars < 0) {
        gau_field_errors_add(errs, f->name, "must be valid UTF-8");
    } else if (f->type == GAU_FIELD_STRING && !f->controls &&
               !gau_schema_text_clean(v, n)) {
        gau_field_errors_add(errs, f->name,
                             "must not contain control characters");
    } else if (f->past && gau_schema_date_valid(v) &&
               !gau_schema_date_past(v, now_utc_ms())) {
        gau_field_errors_add(errs, f->name, "must not be in the future");
    } else if (format_reason(f)) {
        int ok = f->type == GAU_FIELD_UUID ? gau_uuid_valid(v)
                 : f->type == GAU_FIELD_EMAIL ? gau_schema_email_valid(v)
                 : f->type == GAU_FIELD_DATE ? gau_schema_date_valid(v)
                 : gau_schema_username_valid(v);

        if (!ok)
            gau_field_errors_add(errs, f->name, "%s", format_reason(f));
    } else if (f->type == GAU_FIELD_ENUM) {
        for (e = f->values; *e && strcmp(*e, v) != 0; e++)
            ;
        if (!*e) {
            enum_reason(f, buf, sizeof(buf));
            gau_field_errors_add(errs, f->name, "%s", buf);
        }
    } else if (f->has_min && chars < f->min) {
        if (f->min == 1)
            gau_field_errors_add(errs, f->name, "must not be empty");
        else
            gau_field_errors_add(errs, f->name,
                                 "must be at least %lld characters",
                                 (long long)f->min);
    } else if (f->has_max && chars > f->max) {
        gau_field_errors_add(errs, f->name, "must be at most %lld characters",
                             (long long)f->max);
    }
}

static void check_int(const struct gau_field_info *f, int64_t v,
                      struct gau_field_errors *errs)
{
    if (f->type == GAU_FIELD_TIMESTAMP && (v < 0 || v > GAU_SCHEMA_TS_MAX))
        gau_field_errors_add(errs, f->name,
                             "must be a time between 1970 and 9999");
    else if (f->has_min && v < f->min)
        gau_field_errors_add(errs, f->name, "must be at least %lld",
                             (long long)f->min);
    else if (f->has_max && v > f->max)
        gau_field_errors_add(errs, f->name, "must be at most %lld",
                             (long long)f->max);
}

/* Validates s, adding errors only for fields that have none yet. */
static void check_all(const struct msg_desc *m, const void *s,
                      struct gau_field_errors *errs)
{
    struct gau_field_errors mine = GAU_FIELD_ERRORS_INIT;
    const char *const *a;
    size_t i;
    int k;

    for (i = 0; i < m->n; i++) {
        const struct gau_field_info *f = &m->f[i];
        const char *p = (const char *)s + f->offset;

        if (!present(f, s) || f->type == GAU_FIELD_BOOL)
            continue;
        if (is_text(f))
            check_text(f, p, &mine);
        else
            check_int(f, *(const int64_t *)p, &mine);
    }
    if (m->any) {
        bool any = false;
        char buf[112] = "one of ";

        for (a = m->any; *a; a++) {
            for (i = 0; i < m->n; i++)
                if (strcmp(m->f[i].name, *a) == 0 && present(&m->f[i], s))
                    any = true;
            snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
                     a == m->any ? "" : ", ", *a);
        }
        if (!any)
            gau_field_errors_add(&mine, m->any[0], "%s is required", buf);
    }
    for (k = 0; k < mine.count; k++)
        if (!has_error(errs, mine.e[k].field))
            gau_field_errors_add(errs, mine.e[k].field, "%s",
                                 mine.e[k].reason);
}

static int msg_validate(const struct msg_desc *m, const void *s,
                        struct gau_field_errors *errs)
{
    struct gau_field_errors mine = GAU_FIELD_ERRORS_INIT;
    int k;

    check_all(m, s, &mine);
    if (errs)
        for (k = 0; k < mine.count; k++)
            gau_field_errors_add(errs, mine.e[k].field, "%s",
                                 mine.e[k].reason);
    return mine.count ? GAU_EINVAL : 0;
}

static int find_field(const struct msg_desc *m, const char *key, size_t len)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        if (strlen(m->f[i].name) == len &&
            memcmp(m->f[i].name, key, len) == 0)
            return (int)i;
    return -1;
}

/* A key as it may appear in an error: printable ASCII, shortened. */
static void key_name(const char *key, size_t len, char *out, size_t cap)
{
    size_t i;

    for (i = 0; i < len && i + 1 < cap; i++)
        out[i] = key[i] > 0x20 && key[i] < 0x7f ? key[i] : '?';
    out[i] = '\0';
}

/* Stores a string value of n bytes; a uuid is stored lower-case. */
static int put_text(const struct gau_field_info *f, void *s, const char *v,
                    size_t n, struct gau_field_errors *errs)
{
    char *dst = (char *)s + f->offset;
    size_t i;

    if (gau_schema_utf8_chars(v, n) < 0) {
        gau_field_errors_add(errs, f->name, "must be valid UTF-8");
        return -1;
    }
    if (n >= f->size) {
        /* Bytes past max * 4 are more characters than max, for sure. */
        if (format_reason(f))
            gau_field_errors_add(errs, f->name, "%s", format_reason(f));
        else if (f->type == GAU_FIELD_ENUM)
            check_text(f, "", errs);
        else
            gau_field_errors_add(errs, f->name,
                                 "must be at most %lld characters",
                                 (long long)f->max);
        return -1;
    }
    memcpy(dst, v, n);
    dst[n] = '\0';
    if (f->type == GAU_FIELD_UUID)
        for (i = 0; i < n; i++)
            dst[i] = (char)tolower((unsigned char)dst[i]);
    return 0;
}

static const char *type_reason(const struct gau_field_info *f)
{
    switch (f->type) {
    case GAU_FIELD_INT:
        return "must be an integer";
    case GAU_FIELD_BOOL:
        return "must be a boolean";
    case GAU_FIELD_TIMESTAMP:
        return "must be a timestamp (ms since the epoch)";
    default:
        return "must be a string";
    }
}

/* Ends a decode: missing required fields, then the value checks. */
static int finish(const struct msg_desc *m, void *s, const bool *seen,
                  struct gau_field_errors *mine, struct gau_field_errors *errs)
{
    size_t i;
    int k;

    for (i = 0; i < m->n; i++)
        if (!m->f[i].optional && !seen[i] && !has_error(mine, m->f[i].name))
            gau_field_errors_add(mine, m->f[i].name, "is required");
    check_all(m, s, mine);
    if (errs)
        for (k = 0; k < mine->count; k++)
            gau_field_errors_add(errs, mine->e[k].field, "%s",
                                 mine->e[k].reason);
    return mine->count ? GAU_EINVAL : 0;
}

/* ---- msgpack ------------------------------------------------------------ */

static int mp_value(const struct gau_field_info *f, void *s,
                    const msgpack_object *v, struct gau_field_errors *errs)
{
    char *p = (char *)s + f->offset;

    if (is_text(f)) {
        if (v->type != MSGPACK_OBJECT_STR)
            goto type;
        return put_text(f, s, v->via.str.ptr, v->via.str.size, errs);
    }
    if (f->type == GAU_FIELD_BOOL) {
        if (v->type != MSGPACK_OBJECT_BOOLEAN)
            goto type;
        *(bool *)p = v->via.boolean;
        return 0;
    }
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (v->via.u64 > (uint64_t)INT64_MAX) {
            gau_field_errors_add(errs, f->name, "is out of range");
            return -1;
        }
        *(int64_t *)p = (int64_t)v->via.u64;
        return 0;
    }
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *(int64_t *)p = v->via.i64;
        return 0;
    }
type:
    gau_field_errors_add(errs, f->name, "%s", type_reason(f));
    return -1;
}

static int msg_decode(const struct msg_desc *m, const msgpack_object *o,
                      void *s, size_t size, struct gau_field_errors *errs)
{
    struct gau_field_errors mine = GAU_FIELD_ERRORS_INIT;
    bool seen[64] = { false };
    char name[48];
    uint32_t i;
    int k;

    memset(s, 0, size);
    if (!o || o->type != MSGPACK_OBJECT_MAP) {
        if (errs)
            gau_field_errors_add(errs, "payload", "must be a map");
        return GAU_EINVAL;
    }
    for (i = 0; i < o->via.map.size; i++) {
        const msgpack_object *key = &o->via.map.ptr[i].key;
        const msgpack_object *val = &o->via.map.ptr[i].val;

        if (key->type != MSGPACK_OBJECT_STR) {
            gau_field_errors_add(&mine, "payload", "keys must be strings");
            continue;
        }
        k = find_field(m, key->via.str.ptr, key->via.str.size);
        if (k < 0) {
            key_name(key->via.str.ptr, key->via.str.size, name,
                     sizeof(name));
            gau_field_errors_add(&mine, name, "unknown field");
            continue;
        }
        if (seen[k]) {
            gau_field_errors_add(&mine, m->f[k].name, "duplicate field");
            continue;
        }
        seen[k] = true;
        if (val->type == MSGPACK_OBJECT_NIL && m->f[k].optional)
            continue;
        if (mp_value(&m->f[k], s, val, &mine) == 0 && m->f[k].optional)
            *has_ptr(&m->f[k], s) = true;
    }
    return finish(m, s, seen, &mine, errs);
}

static void mp_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);

    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void msg_pack(const struct msg_desc *m, msgpack_packer *pk,
                     const void *s)
{
    size_t i, count = 0;

    for (i = 0; i < m->n; i++)
        count += present(&m->f[i], s);
    msgpack_pack_map(pk, count);
    for (i = 0; i < m->n; i++) {
        const struct gau_field_info *f = &m->f[i];
        const char *p = (const char *)s + f->offset;

        if (!present(f, s))
            continue;
        mp_str(pk, f->name);
        if (is_text(f))
            mp_str(pk, p);
        else if (f->type == GAU_FIELD_BOOL)
            *(const bool *)p ? msgpack_pack_true(pk)
                             : msgpack_pack_false(pk);
        else
            msgpack_pack_int64(pk, *(const int64_t *)p);
    }
}

/* ---- JSON --------------------------------------------------------------- */

static int js_value(const struct gau_field_info *f, void *s,
                    const json_t *v, struct gau_field_errors *errs)
{
    char *p = (char *)s + f->offset;

    if (is_text(f)) {
        if (!json_is_string(v))
            goto type;
        return put_text(f, s, json_string_value(v), json_string_length(v),
                        errs);
    }
    if (f->type == GAU_FIELD_BOOL) {
        if (!json_is_boolean(v))
            goto type;
        *(bool *)p = json_is_true(v);
        return 0;
    }
    if (json_is_integer(v)) {
        *(int64_t *)p = (int64_t)json_integer_value(v);
        return 0;
    }
    if (f->type == GAU_FIELD_TIMESTAMP && json_is_string(v)) {
        if (strlen(json_string_value(v)) == json_string_length(v) &&
            gau_schema_ts_parse(json_string_value(v), (int64_t *)p) == 0)
            return 0;
        gau_field_errors_add(errs, f->name, "must be an RFC 3339 time");
        return -1;
    }
type:
    if (f->type == GAU_FIELD_TIMESTAMP)
        gau_field_errors_add(errs, f->name,
                             "must be an RFC 3339 time or an integer");
    else
        gau_field_errors_add(errs, f->name, "%s", type_reason(f));
    return -1;
}

static int msg_from_json(const struct msg_desc *m, const json_t *o, void *s,
                         size_t size, struct gau_field_errors *errs)
{
    struct gau_field_errors mine = GAU_FIELD_ERRORS_INIT;
    bool seen[64] = { false };
    const char *key;
    json_t *val;
    int k;

    memset(s, 0, size);
    if (!json_is_object(o)) {
        if (errs)
            gau_field_errors_add(errs, "body", "must be a JSON object");
        return GAU_EINVAL;
    }
    /* json_object_foreach wants a non-const object; it does not write. */
    json_object_foreach((json_t *)o, key, val) {
        k = find_field(m, key, strlen(key));
        if (k < 0) {
            gau_field_errors_add(&mine, key, "unknown field");
            continue;
        }
        seen[k] = true;
        if (json_is_null(val) && m->f[k].optional)
            continue;
        if (js_value(&m->f[k], s, val, &mine) == 0 && m->f[k].optional)
            *has_ptr(&m->f[k], s) = true;
    }
    return finish(m, s, seen, &mine, errs);
}

static json_t *msg_to_json(const struct msg_desc *m, const void *s)
{
    json_t *o = json_object();
    char ts[GAU_SCHEMA_TS_LEN + 1];
    json_t *v;
    size_t i;

    for (i = 0; i < m->n; i++) {
        const struct gau_field_info *f = &m->f[i];
        const char *p = (const char *)s + f->offset;

        if (!present(f, s))
            continue;
        if (is_text(f)) {
            v = json_stringn(p, strnlen(p, f->size - 1));
        } else if (f->type == GAU_FIELD_BOOL) {
            v = json_boolean(*(const bool *)p);
        } else if (f->type == GAU_FIELD_TIMESTAMP) {
            gau_schema_ts_format(*(const int64_t *)p, ts);
            v = json_string(ts);
        } else {
            v = json_integer((json_int_t) * (const int64_t *)p);
        }
        /* Invalid UTF-8 cannot pass validation; keep the key regardless. */
        json_object_set_new(o, f->name, v ? v : json_string(""));
    }
    return o;
}

/* ---- messages ----------------------------------------------------------- */
'''


# ---- C ---------------------------------------------------------------------

def c_size(f):
    fixed = TYPES[f["type"]][1]
    if fixed:
        return fixed
    if f["type"] == "string":
        return f["max"] * 4 + 1
    if f["type"] == "enum":
        return max(len(v) for v in f["values"]) + 1
    return None


def c_str(s):
    return json.dumps(s)


def gen_struct(m):
    out = ["/* %s v%d (%s)%s */" % (m["name"], m["version"], m["kind"],
                                    ": " + m["description"]
                                    if m["description"] else "")]
    out.append("struct %s {" % m["cname"])
    for f in m["fields"]:
        kind = TYPES[f["type"]][0]
        note = f["type"]
        if f["secret"]:
            note += ", secret"
        if kind == "text":
            out.append("    char %s[%d]; /* %s */" % (f["name"], c_size(f),
                                                     note))
        elif kind == "int":
            out.append("    int64_t %s; /* %s */" % (f["name"], note))
        else:
            out.append("    bool %s;" % f["name"])
        if f["optional"]:
            out.append("    bool has_%s;" % f["name"])
    if not m["fields"]:
        out.append("    char unused_;")
    out.append("};")
    return "\n".join(out)


def gen_protos(m):
    n = m["cname"]
    return """int %(n)s_validate(const struct %(n)s *msg,
    struct gau_field_errors *errs);
int %(n)s_decode(const msgpack_object *payload, struct %(n)s *out,
    struct gau_field_errors *errs);
void %(n)s_pack(msgpack_packer *pk, const struct %(n)s *msg);
int %(n)s_from_json(const json_t *obj, struct %(n)s *out,
    struct gau_field_errors *errs);
json_t *%(n)s_to_json(const struct %(n)s *msg);
extern const struct gau_msg_info %(n)s_info;
""" % {"n": n}


def gen_header(msgs):
    out = [RUNTIME_H]
    out.append("""/*
 * For every message X below:
 *   X_validate   checks a filled struct; 0 or GAU_EINVAL, errs names each
 *                bad field (errs may be NULL).
 *   X_decode     fills out from a msgpack map (str keys); type errors,
 *                unknown keys ("unknown field"), missing required fields
 *                ("is required") and X_validate's checks; nil for an
 *                optional field means absent. 0 or GAU_EINVAL.
 *   X_pack       writes a msgpack map; absent optional fields are omitted.
 *   X_from_json  as X_decode from a JSON object; null means absent; a
 *                non-object is an error on field "body".
 *   X_to_json    a new JSON object (caller json_decref()s it); secret
 *                fields included, timestamps as RFC 3339 strings.
 */
""")
    for m in msgs:
        out.append(gen_struct(m) + "\n")
        out.append(gen_protos(m))
    out.append("#endif\n")
    return "\n".join(out)


def gen_fields(m):
    n = m["cname"]
    out = []
    for f in m["fields"]:
        if f["values"]:
            out.append("static const char *const %s_%s_values[] = { %s, "
                       "NULL };" % (n, f["name"],
                                    ", ".join(c_str(v) for v in f["values"])))
    out.append("static const struct gau_field_info %s_fields[] = {" % n)
    for f in m["fields"]:
        size = c_size(f) or ("sizeof(bool)" if f["type"] == "bool"
                             else "sizeof(int64_t)")
        out.append("""    {
        .name = %s,
        .type = GAU_FIELD_%s,
        .optional = %s,
        .secret = %s,
        .controls = %s, .past = %s,
        .has_min = %s, .min = %d,
        .has_max = %s, .max = %d,
        .values = %s,
        .offset = offsetof(struct %s, %s),
        .has_offset = %s,
        .size = %s,
    },""" % (c_str(f["name"]), f["type"].upper(),
             "true" if f["optional"] else "false",
             "true" if f["secret"] else "false",
             "true" if f["controls"] else "false",
             "true" if f["past"] else "false",
             "false" if f["min"] is None else "true", f["min"] or 0,
             "false" if f["max"] is None else "true", f["max"] or 0,
             "%s_%s_values" % (n, f["name"]) if f["values"] else "NULL",
             n, f["name"],
             "offsetof(struct %s, has_%s)" % (n, f["name"])
             if f["optional"] else "NO_HAS", size))
    if not m["fields"]:
        out.append("    { .name = NULL }")
    out.append("};")
    if m["require_any"]:
        out.append("static const char *const %s_any[] = { %s, NULL };"
                   % (n, ", ".join(c_str(x) for x in m["require_any"])))
    out.append("static const struct msg_desc %s_desc = { %s_fields, %d, %s };"
               % (n, n, len(m["fields"]),
                  n + "_any" if m["require_any"] else "NULL"))
    return "\n".join(out)


def gen_funcs(m):
    return """
int %(n)s_validate(const struct %(n)s *msg, struct gau_field_errors *errs)
{
    return msg_validate(&%(n)s_desc, msg, errs);
}

int %(n)s_decode(const msgpack_object *payload, struct %(n)s *out,
                 struct gau_field_errors *errs)
{
    return msg_decode(&%(n)s_desc, payload, out, sizeof(*out), errs);
}

void %(n)s_pack(msgpack_packer *pk, const struct %(n)s *msg)
{
    msg_pack(&%(n)s_desc, pk, msg);
}

int %(n)s_from_json(const json_t *obj, struct %(n)s *out,
                    struct gau_field_errors *errs)
{
    return msg_from_json(&%(n)s_desc, obj, out, sizeof(*out), errs);
}

json_t *%(n)s_to_json(const struct %(n)s *msg)
{
    return msg_to_json(&%(n)s_desc, msg);
}

static int %(n)s_decode_v(const msgpack_object *o, void *out,
                          struct gau_field_errors *errs)
{
    return %(n)s_decode(o, out, errs);
}

static void %(n)s_pack_v(msgpack_packer *pk, const void *msg)
{
    %(n)s_pack(pk, msg);
}

static int %(n)s_from_json_v(const json_t *o, void *out,
                             struct gau_field_errors *errs)
{
    return %(n)s_from_json(o, out, errs);
}

static json_t *%(n)s_to_json_v(const void *msg)
{
    return %(n)s_to_json(msg);
}

static int %(n)s_validate_v(const void *msg, struct gau_field_errors *errs)
{
    return %(n)s_validate(msg, errs);
}

const struct gau_msg_info %(n)s_info = {
    .name = %(name)s,
    .version = %(version)d,
    .kind = %(kind)s,
    .reply = %(reply)s,
    .principal_required = %(pr)s,
    .trusted_only = %(to)s,
    .size = sizeof(struct %(n)s),
    .decode = %(n)s_decode_v,
    .pack = %(n)s_pack_v,
    .from_json = %(n)s_from_json_v,
    .to_json = %(n)s_to_json_v,
    .validate = %(n)s_validate_v,
    .fields = %(n)s_fields,
    .fields_count = %(nf)d,
};
""" % {"n": m["cname"], "name": c_str(m["name"]), "version": m["version"],
       "kind": KINDS[m["kind"]],
       "reply": c_str(m["reply"]) if m["reply"] else "NULL",
       "pr": "true" if m["principal_required"] else "false",
       "to": "true" if m["trusted_only"] else "false",
       "nf": len(m["fields"])}


def gen_source(msgs):
    out = [RUNTIME_C]
    for m in msgs:
        out.append("/* %s */\n" % m["name"])
        out.append(gen_fields(m))
        out.append(gen_funcs(m))
    out.append("const struct gau_msg_info *const gau_msgs[] = {")
    for m in msgs:
        out.append("    &%s_info," % m["cname"])
    out.append("};")
    out.append("const size_t gau_msgs_count = %d;\n" % len(msgs))
    out.append("""const struct gau_msg_info *gau_msg_find(const char *name)
{
    size_t i;

    for (i = 0; i < gau_msgs_count; i++)
        if (strcmp(gau_msgs[i]->name, name) == 0)
            return gau_msgs[i];
    return NULL;
}
""")
    return "\n".join(out)


# ---- Markdown --------------------------------------------------------------

def md_limits(f):
    t = f["type"]
    if t == "string":
        lo = f["min"] or 0
        return "%d..%d characters%s" % (
            lo, f["max"], "" if f["controls"] else ", no control characters")
    if t == "date" and f["past"]:
        return "10 characters, not in the future"
    if t == "int":
        parts = []
        if f["min"] is not None:
            parts.append(">= %d" % f["min"])
        if f["max"] is not None:
            parts.append("<= %d" % f["max"])
        return ", ".join(parts) or "64-bit signed"
    if t == "enum":
        return " \\| ".join("`%s`" % v for v in f["values"])
    return {"uuid": "36 characters", "email": "<= 254 characters",
            "username": "3..32 characters", "date": "10 characters",
            "timestamp": "1970..9999"}.get(t, "")


def md_fields(m):
    if not m["fields"]:
        return "No fields (an empty map).\n"
    out = ["| field | type | required | limits | description |",
           "|---|---|---|---|---|"]
    for f in m["fields"]:
        desc = f["description"]
        if f["secret"]:
            desc = (desc + " **Secret**: never logged.").strip()
        out.append("| `%s` | %s | %s | %s | %s |"
                   % (f["name"], f["type"],
                      "no" if f["optional"] else "yes", md_limits(f), desc))
    if m["require_any"]:
        out.append("")
        out.append("At least one of %s must be present."
                   % ", ".join("`%s`" % x for x in m["require_any"]))
    return "\n".join(out) + "\n"


MD_HEAD = """# gau messages

Generated from `schemas/*.json` by `tools/schemagen/schemagen.py`; do not
edit. This is the reference for anyone who publishes commands straight to
RabbitMQ instead of going through the HTTP edge.

## Publishing a command

Publish to exchange `gau.commands` with routing key = the command type
(`account.register`) and these properties:

| property | value |
|---|---|
| `content_type` | `application/msgpack` |
| `delivery_mode` | 2 (persistent) |
| `message_id` | the envelope `id` |
| `correlation_id` | your own id for the call; echoed on the reply |
| `reply_to` | a queue of yours (e.g. an exclusive auto-named one) |
| `type` | the command type |

The broker stamps `user_id` with your AMQP user. A `principal` in the
envelope is believed only when that user is a trusted publisher
(`GAU_TRUSTED_PUBLISHERS`): commands marked *principal required* from
anyone else get error `unauthorized`, and commands marked *trusted
publishers only* get `forbidden`.

The reply comes to `reply_to` with the same `correlation_id`; its body is an
envelope whose type is the command's reply type, or `error`.

Events are published to exchange `gau.events` with routing key = the event
type; their `cause` is the id of the command that caused them and their
`corr` the command's `corr`.

## The envelope

Every body is one msgpack map; keys in any order, unknown keys rejected, at
most %(body_max)d bytes and %(depth)d levels of nesting:

| key | type | required | meaning |
|---|---|---|---|
| `id` | str, 1..64 printable ASCII | yes | message id; for a command its idempotency key: sending the same id again with the same request returns the first reply and changes nothing, with a different request it fails with `conflict` |
| `type` | str, 1..63 of `a-z 0-9 _ .` | yes | message type, e.g. `account.register` |
| `v` | positive int | yes | schema version of the payload |
| `corr` | str, <= 64 | no (default: `id`) | correlation id of the whole request chain |
| `cause` | str or nil | no | id of the message that caused this one |
| `time` | int | yes | ms since the epoch when it was created |
| `deadline` | int | no | ms since the epoch after which the command is dropped unanswered |
| `principal` | map or nil | no | `{"user_id": uuid, "session_id": uuid}`: who acts (trusted publishers only) |
| `payload` | map | yes | the message, as its schema below says |

A body that cannot be decoded, an unknown type, a wrong version or a
payload that fails validation is moved to the dead-letter exchange
`gau.dead` and answered with an error reply when `reply_to` is set.

## Error replies

Type `error`, version 1, payload:

| key | type | meaning |
|---|---|---|
| `code` | str | one of the codes below |
| `message` | str | a short human-readable text |
| `fields` | map str -> str | per-field reasons, e.g. `{"password": "must be at least 8 characters"}`; may be empty |

| code | meaning | HTTP |
|---|---|---|
| `invalid` | a field failed validation | 400 |
| `malformed` | the body could not be decoded | 400 |
| `unauthorized` | missing, wrong or revoked credentials | 401 |
| `forbidden` | authenticated but not allowed | 403 |
| `not_found` | the thing asked for does not exist | 404 |
| `conflict` | unique value taken, version clash, idempotency key reused | 409 |
| `too_large` | body past its limit | 413 |
| `unavailable` | a server is down; retry later | 503 |
| `timeout` | the deadline passed | 504 |
| `internal` | a bug | 500 |

## Field types

| type | format |
|---|---|
%(types)s

Strings are UTF-8 and checked; lengths count characters, not bytes. An
optional field may be left out or sent as nil (JSON null). Unknown fields
are rejected with reason `unknown field`.
"""


def gen_md(msgs, by_name):
    types = "\n".join("| `%s` | %s |" % (t, FORMATS[t]) for t in TYPES)
    out = [MD_HEAD % {"body_max": 256 * 1024, "depth": 16, "types": types}]
    for service in dict.fromkeys(m["service"] for m in msgs):
        out.append("## Service `%s`\n" % service)
        for kind, title in (("command", "Commands"), ("event", "Events")):
            group = [m for m in msgs if m["service"] == service and
                     m["kind"] == kind]
            if group:
                out.append("### %s\n" % title)
            for m in group:
                out.append(md_message(m, by_name))
    return "\n".join(out)


def md_message(m, by_name):
    out = ["#### `%s` v%d\n" % (m["name"], m["version"])]
    if m["description"]:
        out.append(m["description"] + "\n")
    if m["kind"] == "command":
        notes = ["routing key `%s`" % m["name"]]
        if m["principal_required"]:
            notes.append("principal required")
        if m["trusted_only"]:
            notes.append("trusted publishers only")
        out.append("Exchange `gau.commands`, %s.\n" % ", ".join(notes))
    else:
        out.append("Exchange `gau.events`, routing key `%s`.\n" % m["name"])
    out.append(md_fields(m))
    if m["kind"] == "command":
        r = by_name[m["reply"]]
        out.append("Reply `%s` v%d%s\n" % (r["name"], r["version"],
                   ": " + r["description"] if r["description"] else ""))
        out.append(md_fields(r))
    return "\n".join(out)


def write(path, text):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fp:
        fp.write(text)
    os.replace(tmp, path)


def main(argv):
    ap = argparse.ArgumentParser(description="generate gau_schema.{c,h}")
    ap.add_argument("--out-c", required=True)
    ap.add_argument("--out-h", required=True)
    ap.add_argument("--out-md", required=True)
    ap.add_argument("schemas", nargs="+")
    args = ap.parse_args(argv)
    try:
        msgs, by_name = load(args.schemas)
    except SchemaError as e:
        sys.stderr.write("schemagen: %s\n" % e)
        return 1
    write(args.out_h, gen_header(msgs))
    write(args.out_c, gen_source(msgs))
    write(args.out_md, gen_md(msgs, by_name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
