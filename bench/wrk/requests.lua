-- Sends the requests listed in $BENCH_INPUT (lookups, pages, PATCHes), in order.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

function init(args)
   list_init()
end

request = list_request
