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

HERE = os.path.dirname(os.path.abspath(__file__))

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
              "description"}

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
    check_keys(where, raw, MESSAGE_KEYS)
    name = check_text(where, raw, "name", True)
    if not NAME_RE.match(name) or len(name) > 63:
        fail(where, "message name '%s' must be dotted lower-case words, at "
             "most 63 characters" % name)
    if name.split(".")[0] != service:
        fail(where, "message '%s' must start with '%s.'" % (name, service))
    where = "%s: message '%s'" % (where, name)
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
    with open(os.path.join(HERE, "runtime_h.in"), encoding="utf-8") as fp:
        out = [fp.read()]
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
        .has_min = %s, .min = %d,
        .has_max = %s, .max = %d,
        .values = %s,
        .offset = offsetof(struct %s, %s),
        .has_offset = %s,
        .size = %s,
    },""" % (c_str(f["name"]), f["type"].upper(),
             "true" if f["optional"] else "false",
             "true" if f["secret"] else "false",
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
    with open(os.path.join(HERE, "runtime_c.in"), encoding="utf-8") as fp:
        out = [fp.read()]
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
        return "%d..%d characters" % (lo, f["max"])
    if t == "int":
        parts = []
        if f["min"] is not None:
            parts.append(">= %d" % f["min"])
        if f["max"] is not None:
            parts.append("<= %d" % f["max"])
        return ", ".join(parts) or "64-bit signed"
    if t == "enum":
        return " \\| ".join("`%s`" % v for v in f["values"])
    return ""


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
