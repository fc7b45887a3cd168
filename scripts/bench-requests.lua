-- wrk script: replays unique, pre-signed Stripe deliveries from $BENCH_REQUESTS.
-- Each wrk thread takes every Nth line so no two threads send the same event.
-- Set BENCH_CLOSE=1 to ask for a new connection per request.
-- Set BENCH_NODES to several host:port (space-separated) to spread the threads over several daemons, thread i to
-- node i modulo their number (the URL given to wrk then only names the Host header); wrk's summary covers them all.
local threads = {}
local counter = 0
local nodes = {}
for node in string.gmatch(os.getenv("BENCH_NODES") or "", "%S+") do
  local host, port = string.match(node, "^(.+):(%d+)$")
  table.insert(nodes, wrk.lookup(host, port)[1])
end

function setup(thread)
  if #nodes > 0 then thread.addr = nodes[counter % #nodes + 1] end
  thread:set("index", counter)
  thread:set("count", tonumber(os.getenv("BENCH_THREADS") or "2"))
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  requests = {}
  local close = os.getenv("BENCH_CLOSE") == "1"
  local n = 0
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    if n % count == index then
      local tab = string.find(line, "\t", 1, true)
      local headers = { ["Content-Type"] = "application/json", ["Stripe-Signature"] = string.sub(line, 1, tab - 1) }
      if close then headers["Connection"] = "close" end
      table.insert(requests, wrk.format("POST", "/webhooks/stripe", headers, string.sub(line, tab + 1)))
    end
    n = n + 1
  end
  position = 0
  non2xx = 0
  -- wrk runs each thread's init in turn and starts each thread as soon as its own init is done, so without this the
  -- first threads would send (and count) requests while the later ones still load their lines, before wrk's clock
  -- starts: each thread marks itself loaded in BENCH_REQUESTS.ready (the first one emptying it), and its first
  -- request waits until every thread is.
  local ready = io.open(os.getenv("BENCH_REQUESTS") .. ".ready", index == 0 and "w" or "a")
  ready:write("loaded\n")
  ready:close()
  -- wrk calls the first thread's request() once on its own main thread, right after that thread's init, to check
  -- the request: that call must not wait.
  started = false
  verified = index ~= 0
end

-- Blocks this thread until every thread of this run has loaded its lines.
local function await_all_loaded()
  local path = os.getenv("BENCH_REQUESTS") .. ".ready"
  while true do
    local loaded = 0
    for _ in io.lines(path) do loaded = loaded + 1 end
    if loaded >= count then return end
    os.execute("sleep 0.01")
  end
end

function request()
  if not started then
    if verified then
      await_all_loaded()
      started = true
    else
      verified = true
    end
  end
  position = position + 1
  if position > #requests then position = 1 end
  return requests[position]
end

function response(status, headers, body)
  if status ~= 200 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  -- errors: non-2xx answers (status 400 and up), connect, read, write errors and timeouts; non2xx: the first alone.
  io.write(string.format("BENCH requests=%d rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d non2xx=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    summary.errors.status))
end
