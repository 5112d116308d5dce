-- SPDX-License-Identifier: MIT
-- wrk script: POST a chat request. The body file is chosen by the
-- BENCH_BODY environment variable (written by bench/run.sh).
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench"
