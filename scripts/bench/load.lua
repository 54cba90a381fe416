-- wrk script: `wrk -s load.lua <url> -- <q1|q2|q3|q4|q5|q6|mix> <tokens file>`.
-- Every request acts as a random principal (token, user, tenant, role). A response
-- that is not 200, or whose body carries GraphQL errors, counts as an error.

local queries = {
  q1 = 'query Q1 { me { id email displayName } currentTenant { id name plan { key } } myRole { name permissions } }',
  q2 = 'query Q2 { members(first: 50) { nodes { user { email displayName } role { name permissions } } } }',
  q3 = 'query Q3 { workspaces(first: 5) { nodes { name members(first: 20) { nodes { user { email displayName } } } } } }',
  q4 = 'mutation Q4($id: ID!, $name: String!) { renameWorkspace(input: { id: $id, name: $name }) { id name } }',
  q5 = 'mutation Q5($slug: String!) { createWorkspace(input: { name: \\"Bench\\", slug: $slug }) { id } }',
  q6 = 'query Q6($from: Date!, $to: Date!) { platformAnalytics(from: $from, to: $to) { tenantsByPlan { key tenants } ' ..
       'tenantsByStatus { key tenants } signUps { day signUps activations } activeTenants { last7Days last30Days } ' ..
       'busiestTenants { slug calls } mostErrors { slug errors } tenantsNearQuota { slug used limit } } }',
}
-- The mixed (soak) load: seven reads for every write.
local mix = { "q1", "q1", "q1", "q2", "q2", "q3", "q3", "q4" }

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local kind, everyone, managers
errors = 0
server_errors = 0
first_error = ""

local function load(path)
  local all, writers = {}, {}
  for line in io.lines(path) do
    local token, user, tenant, role = line:match("^(%S+) (%S+) (%S+) (%S+)$")
    if token then
      local principal = { token = token, user = user, tenant = tenant }
      table.insert(all, principal)
      if role ~= "member" then
        table.insert(writers, principal)
      end
    end
  end
  return all, writers
end

function init(args)
  kind = args[1]
  everyone, managers = load(args[2])
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end

local function body_for(which, principal)
  if which == "q4" then
    -- One of the tenant's five workspaces (their ids are derived from the tenant's).
    local workspace = string.format("%08x", 20 + math.random(0, 4)) .. principal.tenant:sub(9)
    return string.format('{"query":"%s","variables":{"id":"%s","name":"Workspace %d"}}',
      queries.q4, workspace, math.random(1, 1000000))
  end
  if which == "q6" then
    -- The platform over the last 30 days (the bench's principals are platform admins).
    local day = 86400
    return string.format('{"query":"%s","variables":{"from":"%s","to":"%s"}}',
      queries.q6, os.date("!%Y-%m-%d", os.time() - 29 * day), os.date("!%Y-%m-%d", os.time()))
  end
  if which == "q5" then
    -- A new workspace with a random slug: the plan's workspace quota is checked first.
    return string.format('{"query":"%s","variables":{"slug":"w-%d-%d"}}',
      queries.q5, math.random(1, 1000000000), math.random(1, 1000000000))
  end
  return string.format('{"query":"%s"}', queries[which])
end

function request()
  local which = kind
  if kind == "mix" then
    which = mix[math.random(#mix)]
  end
  local pool = (which == "q4") and managers or everyone
  local principal = pool[math.random(#pool)]
  return wrk.format("POST", "/graphql", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. principal.token,
  }, body_for(which, principal))
end

function response(status, headers, body)
  -- A GraphQL error list (a field named `errors`, as in Q6, is not one).
  if status ~= 200 or body:find('"errors":[', 1, true) then
    errors = errors + 1
    if status >= 500 then
      server_errors = server_errors + 1
    end
    if first_error == "" then
      first_error = status .. " " .. body:sub(1, 300)
    end
  end
end

function done(summary, latency, requests)
  local failed, failed_5xx, sample = 0, 0, ""
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("errors")
    failed_5xx = failed_5xx + thread:get("server_errors")
    local seen = thread:get("first_error")
    if sample == "" and seen ~= "" then
      sample = seen
    end
  end
  local transport = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%d errors_5xx=%d transport_errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, failed, failed_5xx, transport))
  if sample ~= "" then
    io.write("FIRST_ERROR " .. sample:gsub("\n", " ") .. "\n")
  end
end
