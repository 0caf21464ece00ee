-- POST /Users with unique userNames, the body of create_users.lua, spread in turn over several
-- directories of one server, each with its own token.
--
-- BENCH_DIRECTORIES: "<directory id> <token>" pairs separated by commas. The target URL is the
-- server's root (http://host:port).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local template = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],' ..
   '"userName":"%s@bench.example.com","externalId":"%s",' ..
   '"name":{"givenName":"Given%d","familyName":"Family%d"},"displayName":"Given%d Family%d",' ..
   '"emails":[{"value":"%s@bench.example.com","type":"work","primary":true}],' ..
   '"title":"Engineer","active":true}'

function init(args)
   directories = {}
   for id, token in (os.getenv("BENCH_DIRECTORIES") or ""):gmatch("([^ ,]+) ([^ ,]+)") do
      table.insert(directories, {
         path = base_path() .. "/scim/v2/" .. id .. "/Users",
         headers = {
            ["Authorization"] = "Bearer " .. token,
            ["Content-Type"] = "application/scim+json",
         },
      })
   end
   prefix = (os.getenv("BENCH_RUN") or "run") .. "-t" .. thread_number .. "-"
   created = 0
end

function request()
   created = created + 1
   -- Threads start on different directories, so that each directory gets its share.
   local directory = directories[(created + thread_number) % #directories + 1]
   local name = prefix .. created
   local body = string.format(template, name, name, created, created, created, created, name)
   return wrk.format("POST", directory.path, directory.headers, body)
end
