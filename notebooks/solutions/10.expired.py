# A genuine admin token that expired a minute before it was issued.
stale = lab.provider.mint(["admin"], lifetime=-60)
print("expired_accepted on: ", vulnerable.execute("admin_status", token=stale).status_code, "|", vulnerable.last_reasons()[0])
vulnerable.disable("expired_accepted")
print("expired_accepted off:", vulnerable.execute("admin_status", token=stale).status_code, "|", vulnerable.last_reasons()[0])
challenge.check()
