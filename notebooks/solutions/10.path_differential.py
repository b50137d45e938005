# The guard sees /.well-known/ after the tenant prefix; the router decodes %2e%2e, resolves it, and serves /admin/status.
path = "/t/acme/.well-known/%2e%2e/admin/status"
print("path_differential on: ", vulnerable.get(path).status_code, "|", vulnerable.last_reasons()[0])
vulnerable.disable("path_differential")
print("path_differential off:", vulnerable.get(path).status_code, "|", vulnerable.last_reasons()[0])
challenge.check()
