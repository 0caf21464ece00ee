-- POST /Users with a unique userName per request and a realistic body of about 350 bytes.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local template = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],' ..
   '"userName":"%s@bench.example.com","externalId":"%s",' ..
   '"name":{"givenName":"Given%d","familyName":"Family%d"},"displayName":"Given%d Family%d",' ..
   '"emails":[{"value":"%s@bench.example.com","type":"work","primary":true}],' ..
   '"title":"Engineer","active":true}'

function init(args)
   path = base_path() .. "/Users"
   prefix = (os.getenv("BENCH_RUN") or "run") .. "-t" .. thread_number .. "-"
   created = 0
end

function request()
   created = created + 1
   local name = prefix .. created
   local body = string.format(template, name, name, created, created, created, created, name)
   return wrk.format("POST", path, nil, body)
end
