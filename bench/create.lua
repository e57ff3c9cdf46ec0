-- wrk script: POST /v1/instances with a unique name per request, rotating over the tenants'
-- tokens in BENCH_TOKENS (comma-separated).
local counter = 0
local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end

function init(args)
    tokens = {}
    for t in string.gmatch(os.getenv("BENCH_TOKENS"), "[^,]+") do
        tokens[#tokens + 1] = t
    end
    prefix = os.getenv("BENCH_PREFIX") or "b"
end

function request()
    counter = counter + 1
    local body = string.format('{"name":"%s%d-%d","engine":"postgres","plan":"bench"}',
                               prefix, tid, counter)
    return wrk.format("POST", "/v1/instances", {
        ["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1],
        ["Content-Type"] = "application/json",
    }, body)
end

function response(status, headers, body)
    if status ~= 202 then
        io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n")
    end
end
