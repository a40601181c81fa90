-- ddb.lua: wrk script for the DynamoDB JSON API (one script, four operations).
-- Usage: DDB_OP=put|get|batch|query wrk -t2 -c16 -d10s --latency -s ddb.lua http://127.0.0.1:PORT/
-- Tables (created and preloaded by `ddb.py setup`):
--   bench  (pk S):         items k0..k<DDB_KEYS-1> with a 200-byte "payload" string
--   qbench (pk S, sk S):   partitions p0..p<DDB_PARTS-1>, 20 items each (sk s00..s19), 200-byte payload
-- Operations:
--   put    PutItem of a new unique key "<tag>-t<thread>-<n>" (+ 200-byte payload) into bench
--   get    GetItem of a random existing key k<i>
--   batch  BatchWriteItem of 25 new unique items (same shape as put) into bench
--   query  Query of a random partition: KeyConditionExpression "pk = :p", Limit 10
-- Env: DDB_TAG     run tag, so repeated runs never overwrite items (default: epoch seconds)
--      DDB_KEYS    number of preloaded bench keys (default 10000)
--      DDB_PARTS   number of preloaded qbench partitions (default 500)
--      DDB_VERIFY=1  inspect every response (wrk then parses bodies, so only for warm-up runs) and
--                  print "DDB verify <op>: responses=N bad=B first_bad=..." where a response is bad if
--                  it is not HTTP 200, or: get without "Item"; batch with non-empty UnprocessedItems;
--                  query without "Count":10.
local threads = {}
local op = os.getenv("DDB_OP") or "put"
local tag = os.getenv("DDB_TAG") or tostring(os.time())
local nkeys = tonumber(os.getenv("DDB_KEYS") or "10000")
local nparts = tonumber(os.getenv("DDB_PARTS") or "500")
local targets = { put = "PutItem", get = "GetItem", batch = "BatchWriteItem", query = "Query" }
if not targets[op] then error("DDB_OP must be put, get, batch or query") end

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local counter = 0
local prefix
local pad = string.rep("v", 200)

function init(args)
  prefix = tag .. "-t" .. tostring(tid) .. "-"
  math.randomseed(os.time() * 7919 + tid)
  wrk.method = "POST"
  wrk.path = "/"
  wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
  wrk.headers["X-Amz-Target"] = "DynamoDB_20120810." .. targets[op]
  wrk.headers["X-Amz-Date"] = "20260101T000000Z"
  wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00"
end

local function item(key)
  return '{"pk":{"S":"' .. key .. '"},"payload":{"S":"' .. pad .. '"}}'
end

function request()
  local body
  if op == "put" then
    counter = counter + 1
    body = '{"TableName":"bench","Item":' .. item(prefix .. counter) .. '}'
  elseif op == "get" then
    body = '{"TableName":"bench","Key":{"pk":{"S":"k' .. math.random(0, nkeys - 1) .. '"}}}'
  elseif op == "batch" then
    counter = counter + 1
    local reqs = {}
    for i = 1, 25 do
      reqs[i] = '{"PutRequest":{"Item":' .. item(prefix .. "b" .. counter .. "-" .. i) .. '}}'
    end
    body = '{"RequestItems":{"bench":[' .. table.concat(reqs, ",") .. ']}}'
  else
    body = '{"TableName":"qbench","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":' ..
           '{":p":{"S":"p' .. math.random(0, nparts - 1) .. '"}},"Limit":10}'
  end
  return wrk.format(nil, nil, nil, body)
end

if os.getenv("DDB_VERIFY") == "1" then
  seen, bad, first_bad = 0, 0, ""
  local function check(status, body)
    if status ~= 200 then return false end
    if op == "get" then
      return string.find(body, '"Item"', 1, true) ~= nil
    elseif op == "batch" then
      -- DynamoDB always returns UnprocessedItems; it must be empty ({}).
      return string.find(body, '"UnprocessedItems"%s*:%s*{%s*}') ~= nil
    elseif op == "query" then
      return string.find(body, '"Count"%s*:%s*10[^%d]') ~= nil
    end
    return true
  end
  function response(status, headers, body)
    seen = seen + 1
    if not check(status, body or "") then
      bad = bad + 1
      if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 200) end
    end
  end
  function done(summary, latency, requests)
    local s, b, fb = 0, 0, ""
    for _, t in ipairs(threads) do
      s = s + t:get("seen"); b = b + t:get("bad")
      if fb == "" then fb = t:get("first_bad") end
    end
    io.write(string.format("DDB verify %s: responses=%d bad=%d first_bad=%s\n", op, s, b, fb))
  end
end
