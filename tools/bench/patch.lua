-- wrk script of the write path: PATCH /api/v2/account/profile, the access
-- tokens of var/bench/run/tokens.txt in turn (one user per token, so the
-- row locks of one user do not serialise the test), and a body that
-- differs on every request so each one is a real update.
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do
    tokens[#tokens + 1] = line
end

local counter = 0
local id = 0

function setup(thread)
    id = id + 1
    thread:set("id", id)
end

function request()
    counter = counter + 1
    local token = tokens[(counter + id * 7) % #tokens + 1]
    local body = string.format('{"fullname":"wrk %d %d"}', id, counter)
    return wrk.format("PATCH", "/api/v2/account/profile", {
        ["Authorization"] = "Bearer " .. token,
        ["Content-Type"] = "application/json",
    }, body)
end
