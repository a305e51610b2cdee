-- wrk script: the session cookie changes every N requests (run with -t1). Each batch of N
-- requests uses the next cookie of the file, so the gateway meets a session it has not seen.
-- Arguments (after --): <cookie file, one value a line> <N> <first cookie, 0-based>
local cookies = {}
local batch = 10
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then cookies[#cookies + 1] = line end
  end
  batch = tonumber(args[2]) or 10
  i = (tonumber(args[3]) or 0) * batch
end

function request()
  local n = math.floor(i / batch) % #cookies + 1
  i = i + 1
  return wrk.format(nil, nil, { ["Cookie"] = "__Host-microseg=" .. cookies[n] })
end
