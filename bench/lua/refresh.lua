-- The OAuth refresh grant under load, each refresh token used exactly once.
--
--   wrk -t1 -c32 -s refresh.lua URL -- TOKEN_FILE AUTHORIZATION
--
-- TOKEN_FILE holds independent refresh tokens, one a line, created beforehand (several per
-- connection). Every request takes a token from the pool and every answer gives its new, rotated
-- refresh_token back to it, so each connection always sends a token nobody has used, and a
-- token's successor goes out on the next request. wrk's request()/response() callbacks do not
-- say which connection they serve, so the pool is per thread (with -t1, shared by the thread's
-- connections): tokens still never repeat, and with two or more tokens per connection the pool
-- never runs dry while answers are good. A request that fails loses its token; the counters
-- (printed in the BENCH line) say how often that happened.
--
-- AUTHORIZATION is the whole header value (client_secret_basic): "Basic base64(id:secret)".

dofile("summary.lua")
summary_counters({ "bad_answers", "pool_empty", "tokens_loaded" })

-- wrk calls a thread's init() before it sets up the next thread, so threads cannot split the
-- file between them: one thread only (wrk -t1), which is what bench/run uses.
local thread_count = 0
local base_setup = setup
function setup(thread)
   thread_count = thread_count + 1
   assert(thread_count == 1, "refresh.lua takes one wrk thread (-t1)")
   base_setup(thread)
end

local pool = {}
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
bad_answers = 0
pool_empty = 0
tokens_loaded = 0

local function urlencode(value)
   return (value:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

function init(args)
   local path, authorization = args[1], args[2]
   assert(path and authorization, "usage: -- TOKEN_FILE AUTHORIZATION")
   headers["Authorization"] = authorization
   local file = assert(io.open(path, "r"))
   for line in file:lines() do
      if #line > 0 then table.insert(pool, line) end
   end
   file:close()
   tokens_loaded = #pool
end

function request()
   local token = table.remove(pool)
   if token == nil then
      pool_empty = pool_empty + 1
      token = "pool-empty"  -- answered 400 and counted by wrk as a status error
   end
   return wrk.format("POST", nil, headers, "grant_type=refresh_token&refresh_token=" .. urlencode(token))
end

function response(status, _, body)
   local token = status == 200 and body:match('"refresh_token"%s*:%s*"([^"]+)"')
   if token then
      table.insert(pool, token)
   else
      bad_answers = bad_answers + 1
   end
end
