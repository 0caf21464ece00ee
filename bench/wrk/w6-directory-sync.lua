-- W6: one directory's initial sync, as an identity provider sends it.
--
-- For each user: a `userName eq` lookup that must find nothing (200, totalResults 0),
-- then a POST creating that user (201). Run with one thread and one connection per
-- directory, so requests alternate strictly:
--
--   wrk -t1 -c1 -d20s -s w6-directory-sync.lua <scim base url> -- <token> <unique prefix>
--
-- done() prints one JSON line: requests, duration, p50/p99 of this directory's latency,
-- the statuses seen per kind of request and how many answers were not the expected one.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

local token, prefix
local counter = 0
local looking_up = true
statuses = {}
unexpected = 0
first_unexpected = ""

function init(args)
   token = args[1]
   prefix = args[2]
end

local function user_name()
   return prefix .. "-" .. counter .. "@example.com"
end

local function lookup()
   local filter = 'userName eq "' .. user_name() .. '"'
   local encoded = filter:gsub("[^%w%-%.]", function(c)
      return string.format("%%%02X", string.byte(c))
   end)
   return wrk.format("GET", wrk.path .. "/Users?filter=" .. encoded, {
      ["Authorization"] = "Bearer " .. token,
   })
end

local function create()
   local name = user_name()
   local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],'
      .. '"userName":"' .. name .. '","externalId":"' .. prefix .. "-" .. counter .. '",'
      .. '"name":{"givenName":"Ada","familyName":"Lovelace","formatted":"Ada Lovelace"},'
      .. '"displayName":"Ada Lovelace","title":"Engineer","active":true,'
      .. '"emails":[{"primary":true,"type":"work","value":"' .. name .. '"}]}'
   return wrk.format("POST", wrk.path .. "/Users", {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/scim+json",
   }, body)
end

function request()
   if looking_up then
      return lookup()
   end
   return create()
end

local function note(kind, status, expected, body)
   local key = kind .. " " .. status
   statuses[key] = (statuses[key] or 0) + 1
   if status ~= expected then
      unexpected = unexpected + 1
      if first_unexpected == "" then
         -- Only characters that need no escaping in JSON.
         first_unexpected = key .. ": " .. body:sub(1, 300):gsub("[^%w%s%.,:;_%-/=]", " ")
      end
   end
end

function response(status, headers, body)
   if looking_up then
      if status == 200 and not body:find('"totalResults":%s*0[,}]') then
         status = "found"  -- the user should not exist yet
      end
      note("lookup", status, 200, body)
   else
      note("create", status, 201, body)
      counter = counter + 1
   end
   looking_up = not looking_up
end

local function json_counts(counts)
   local parts = {}
   for key, count in pairs(counts) do
      table.insert(parts, string.format('"%s":%d', key, count))
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
   local thread = threads[1]
   local errors = summary.errors
   io.write(string.format(
      '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
         .. '"statuses":%s,"unexpected":%d,"first_unexpected":"%s",'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99), latency.max,
      json_counts(thread:get("statuses")), thread:get("unexpected"),
      thread:get("first_unexpected"),
      errors.connect, errors.read, errors.write, errors.status, errors.timeout
   ))
end
