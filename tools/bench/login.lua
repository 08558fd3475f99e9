-- wrk script of the sign-in figure: POST /api/v2/account/login with the
-- body of var/bench/run/login.json (a user of the bench, right password).
local f = assert(io.open(os.getenv("BENCH_LOGIN"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = "application/json"
f:close()
