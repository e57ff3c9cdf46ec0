-- wrk script: authenticated GET of BENCH_PATH.
function init(args)
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
    wrk.path = os.getenv("BENCH_PATH")
end

function response(status, headers, body)
    if status ~= 200 then
        io.stderr:write("unexpected status " .. status .. "\n")
    end
end
