# The task reads a file (files:read), tells the time (api:read) and writes a file (files:write). In this hierarchy
# files:write implies files:read, so "api:read files:write" is the narrowest grant: the injected write_operation
# (api:write) is outside it. The agent still cannot tell the injection from the task: the grant only bounds it.
run = run_task(lab, ["api:read", "files:write"])
print(run.table())
challenge.check()
