#!/usr/bin/python3
"""users.py BASE_URL N PREFIX OUTDIR - the bench's users.

Registers N users named PREFIX0..PREFIX<N-1> on the edge at BASE_URL and
signs each in once. Writes OUTDIR/users.txt ("user_id session_id" lines,
for busbench and pgbench), OUTDIR/tokens.txt (one access token a line,
for the wrk scripts) and OUTDIR/login.json (the first user's login body).
"""
import base64
import json
import sys
import urllib.request

PASSWORD = "bench password 1"


def post(url, body):
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


def claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def main():
    base, n, prefix, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
        sys.argv[4]
    users, tokens = [], []
    for i in range(n):
        name = "%s%d" % (prefix, i)
        post(base + "/api/v2/account/register",
             {"username": name, "password": PASSWORD,
              "fullname": "Bench User %d" % i})
        t = post(base + "/api/v2/account/login",
                 {"login": name, "password": PASSWORD})
        c = claims(t["access_token"])
        users.append("%s %s" % (c["sub"], c["sid"]))
        tokens.append(t["access_token"])
    with open(out + "/users.txt", "w") as f:
        f.write("\n".join(users) + "\n")
    with open(out + "/tokens.txt", "w") as f:
        f.write("\n".join(tokens) + "\n")
    with open(out + "/login.json", "w") as f:
        json.dump({"login": prefix + "0", "password": PASSWORD}, f)


if __name__ == "__main__":
    main()
